"""The whole loop through the real services: a need, a run on the Celery worker, approval
with a reservation at partners, the partner's answer, delivery and rating."""
from __future__ import annotations

from tests.matching.conftest import MUSTIKASARI, matching_audit, matching_outbox
from tests.partners.conftest import bearer


def capacity(world, offer_id) -> dict:
    response = world.make.app.test_client().get(
        f"/api/v1/offers/{offer_id}/capacity", headers=bearer(world.make.service_token()))
    return response.json


def test_a_need_is_matched_approved_accepted_delivered_and_rated(world):
    offer = world.offer(capacity=10)
    programme = world.programme()
    need = world.need(programme["id"])

    run = world.run(programme_id=programme["id"])
    assert run["status"] == "succeeded", run
    assert run["stats"]["needs"] == 1 and run["stats"]["candidate_edges"] >= 1
    assert set(run["phases"]) >= {"fetching_offers", "scoring", "solving", "saving"}
    assert run["weights"]  # the run records the weights it used

    [proposal] = world.proposals(run_id=run["id"])
    assert proposal["offer_id"] == str(offer.id) and proposal["quantity"] == 4
    assert proposal["need_region"] == MUSTIKASARI and 0 <= proposal["score"] <= 1
    assert proposal["explanation"]  # rules passed and score components

    response = world.client.post(f"/api/v1/proposals/{proposal['id']}/approve",
                                 headers=world.officer_h)
    assert response.status_code == 200, response.json
    assert response.json["status"] == "approved"
    assert capacity(world, offer.id)["reserved"] == 4
    [event] = matching_outbox("proposal.approved")
    assert event.payload["proposal_id"] == proposal["id"]
    assert matching_audit(action="proposal.approved", object_id=proposal["id"])
    need_now = world.client.get(f"/api/v1/needs/{need['id']}", headers=world.officer_h).json
    assert (need_now["status"], need_now["covered"]) == ("matched", 4)

    # the partner sees its approved match, and accepts it
    mine = world.client.get("/api/v1/proposals", headers=world.company_h).json
    assert [p["id"] for p in mine] == [proposal["id"]]
    response = world.client.post(f"/api/v1/proposals/{proposal['id']}/accept",
                                 headers=world.company_h)
    assert response.json["status"] == "accepted"

    # the coordinator confirms four sessions were held, and rates them
    response = world.client.post(f"/api/v1/proposals/{proposal['id']}/delivery", json={
        "delivered_quantity": 4, "rating": 5, "notes": "Peserta antusias"},
        headers=world.coordinator_h)
    assert response.status_code == 201, response.json
    assert capacity(world, offer.id)["committed"] == 4
    need_now = world.client.get(f"/api/v1/needs/{need['id']}", headers=world.officer_h).json
    assert need_now["status"] == "fulfilled"
    assert matching_outbox("delivery.confirmed")


def test_approving_again_changes_nothing(world):
    offer = world.offer(capacity=10)
    programme = world.programme()
    world.need(programme["id"])
    world.run()
    [proposal] = world.proposals()
    for _ in range(2):
        response = world.client.post(f"/api/v1/proposals/{proposal['id']}/approve",
                                     headers=world.officer_h)
        assert response.json["status"] == "approved"
    assert capacity(world, offer.id)["reserved"] == 4
    assert len(matching_outbox("proposal.approved")) == 1


def test_capacity_gone_makes_the_proposal_stale_with_a_reason(world):
    offer = world.offer(capacity=5)
    programme = world.programme()
    world.need(programme["id"])
    world.run()
    [proposal] = world.proposals()
    # someone else takes the capacity at partners in the meantime
    taken = world.make.app.test_client().post(
        f"/api/v1/offers/{offer.id}/reservations", json={"reference": "other", "quantity": 3},
        headers=bearer(world.make.service_token()))
    assert taken.status_code == 201
    response = world.client.post("/api/v1/proposals/approve",
                                 json={"proposal_ids": [proposal["id"]]},
                                 headers=world.officer_h)
    [result] = response.json
    assert result["status"] == "stale" and "remain" in result["detail"]
    assert capacity(world, offer.id)["reserved"] == 3


def test_a_new_run_supersedes_unapproved_proposals_and_keeps_approved_ones(world):
    world.offer(capacity=10)
    programme = world.programme()
    world.need(programme["id"])
    second = world.need(programme["id"], title="Pelatih kedua", quantity=2)
    world.run()
    first_batch = world.proposals()
    approved = next(p for p in first_batch if p["need_id"] == second["id"])
    world.client.post(f"/api/v1/proposals/{approved['id']}/approve", headers=world.officer_h)
    world.run()
    statuses = {p["id"]: p["status"] for p in world.proposals()}
    assert statuses[approved["id"]] == "approved"
    other = next(p for p in first_batch if p["id"] != approved["id"])
    assert statuses[other["id"]] == "superseded"
    assert list(statuses.values()).count("proposed") == 1
