"""GET /api/v1/proposals/{id}/alternatives: the other offers that could serve a proposal's
need, scored with the run's weights against the active offers at partners, for DP3A."""
from __future__ import annotations

import uuid

from services.matching.models import Proposal
from services.matching.models import db as matching_db
from tests.matching.conftest import MUSTIKASARI, World
from tests.partners.conftest import bearer


def alternatives(world: World, proposal_id: str, headers=None, **query):
    return world.client.get(f"/api/v1/proposals/{proposal_id}/alternatives",
                            query_string=query, headers=headers or world.officer_h)


def test_the_other_candidate_offers_best_first_with_their_explanations(world):
    university, lecturer = world.make.organisation(kind="university", name="Universitas Uji")
    near = world.offer(title="Pelatih pemasaran digital Mustikasari", capacity=10,
                       delivery_regions=[MUSTIKASARI])
    far = world.make.offer(lecturer, title="Dosen pemasaran digital (daring)", capacity=10,
                           mode="online")
    world.offer(kind="module", unit="seats", capacity=30, title="Modul parenting",
                topics=["parenting"])  # another kind: never an alternative
    need = world.need(world.programme()["id"], quantity=4,
                      accepted_modes=["onsite", "online"])
    run = world.run()
    assert run["status"] == "succeeded", run
    [proposal] = world.proposals(run_id=run["id"])
    assert proposal["need_id"] == need["id"]
    chosen = {str(near.id), str(far.id)} - {proposal["offer_id"]}

    response = alternatives(world, proposal["id"])
    assert response.status_code == 200, response.json
    found = response.json
    assert [a["offer_id"] for a in found] == list(chosen)
    [other] = found
    assert other["quantity"] == 4 and other["unit"] == "sessions"
    assert other["offer_remaining"] == 10
    assert other["proposal_id"] is None and other["proposal_status"] is None
    assert 0 <= other["score"] <= proposal["score"]  # the run took the better one
    assert set(other["explanation"]["score"]["components"]) == set(
        proposal["explanation"]["score"]["components"])
    assert other["explanation"]["rules"]["same_kind"] == {"passed": True, "kind": "trainer"}
    names = {str(near.id): world.company.name, str(far.id): university.name}
    assert other["organisation_name"] == names[other["offer_id"]]


def test_a_split_need_shows_the_same_runs_other_proposal(world):
    first = world.offer(capacity=3, title="Pelatih A")
    second = world.offer(capacity=3, title="Pelatih B")
    world.need(world.programme()["id"], quantity=5)
    run = world.run()
    proposals = world.proposals(run_id=run["id"])
    assert {p["offer_id"] for p in proposals} == {str(first.id), str(second.id)}
    one, two = proposals
    [other] = alternatives(world, one["id"]).json
    assert other["offer_id"] == two["offer_id"]
    assert (other["proposal_id"], other["proposal_status"]) == (two["id"], "proposed")
    assert other["quantity"] == 3


def test_limit_and_bad_input(world):
    for title in ("Pelatih A", "Pelatih B", "Pelatih C"):
        world.offer(capacity=10, title=title)
    world.need(world.programme()["id"], quantity=2, single_offer=True)
    run = world.run()
    [proposal] = world.proposals(run_id=run["id"])
    assert len(alternatives(world, proposal["id"]).json) == 2
    assert len(alternatives(world, proposal["id"], limit=1).json) == 1
    for bad in (0, 51, "x"):
        response = alternatives(world, proposal["id"], limit=bad)
        assert response.status_code == 422, response.json
        assert "limit" in response.json["errors"]
    assert alternatives(world, str(uuid.uuid4())).status_code == 404
    # Only DP3A weighs proposals: coordinators and partners are refused.
    assert alternatives(world, proposal["id"], world.coordinator_h).status_code == 403
    assert alternatives(world, proposal["id"], world.company_h).status_code == 403


def test_a_covered_need_is_compared_for_the_proposals_share(world):
    world.offer(capacity=10, title="Pelatih A")
    world.offer(capacity=10, title="Pelatih B")
    world.need(world.programme()["id"], quantity=4)
    run = world.run()
    [proposal] = world.proposals(run_id=run["id"])
    approved = world.client.post(f"/api/v1/proposals/{proposal['id']}/approve",
                                 headers=world.officer_h)
    assert approved.json["status"] == "approved"
    [other] = alternatives(world, proposal["id"]).json
    assert other["quantity"] == 4
    with matching_db.session_factory() as session:
        assert session.get(Proposal, uuid.UUID(proposal["id"])).status == "approved"
    admin = bearer(world.make.token(world.make.user("dp3a_admin")))
    assert alternatives(world, proposal["id"], admin).status_code == 200
