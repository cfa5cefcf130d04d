"""Decisions on proposals through the real services, and how they fail: partners down,
capacity taken by a concurrent approval, illegal transitions, delivery by the wrong person,
and the reconciliation task repairing divergence between proposals and reservations."""
from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from werkzeug.serving import make_server

from services.matching import create_app
from services.matching.clients import partners
from services.matching.models import Need, Proposal
from services.matching.models import db as matching_db
from services.matching.operations import decisions
from services.matching.tasks import reconcile_reservations
from services.partners.models import CapacityEntry, Offer
from services.partners.models import db as partners_db
from shared.errors import PROBLEM_MIME
from tests.matching.conftest import World, matching_audit, matching_config, matching_outbox
from tests.matching.test_api_validation import fingerprint
from tests.partners.conftest import bearer

PADURENAN = "32.75.11.1001"


# --- helpers -----------------------------------------------------------------------------------

def capacity(world: World, offer_id: Any) -> dict[str, Any]:
    response = world.make.app.test_client().get(
        f"/api/v1/offers/{offer_id}/capacity", headers=bearer(world.make.service_token()))
    assert response.status_code == 200, response.json
    return response.json


def ledger(world: World, offer_id: Any) -> dict[str, str]:
    """reference -> state of every entry at partners for this offer."""
    response = world.make.app.test_client().get(
        f"/api/v1/offers/{offer_id}/reservations", headers=bearer(world.make.service_token()))
    assert response.status_code == 200, response.json
    return {entry["reference"]: entry["state"] for entry in response.json}


def proposal(world: World, proposal_id: str) -> dict[str, Any]:
    response = world.client.get(f"/api/v1/proposals/{proposal_id}", headers=world.officer_h)
    assert response.status_code == 200, response.json
    return response.json


def need(world: World, need_id: str) -> dict[str, Any]:
    return world.client.get(f"/api/v1/needs/{need_id}", headers=world.officer_h).json


def approve(world: World, proposal_id: str, headers: dict[str, str] | None = None):
    return world.client.post(f"/api/v1/proposals/{proposal_id}/approve",
                             headers=headers or world.officer_h)


def one_proposal(world: World, **need_changes: Any) -> tuple[Any, dict, dict]:
    """An offer of 10 sessions, a need of 4 and the run's proposal for it."""
    offer = world.offer(capacity=10)
    programme = world.programme()
    the_need = world.need(programme["id"], **need_changes)
    run = world.run(programme_id=programme["id"])
    assert run["status"] == "succeeded", run
    [only] = world.proposals(run_id=run["id"])
    return offer, the_need, only


def approved_proposal(world: World) -> tuple[Any, dict, dict]:
    offer, the_need, only = one_proposal(world)
    response = approve(world, only["id"])
    assert response.status_code == 200 and response.json["status"] == "approved", response.json
    return offer, the_need, response.json


def problem(response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type == PROBLEM_MIME
    assert response.json["type"].endswith("/" + slug), response.json
    return response.json


# --- partners down -------------------------------------------------------------------------------

@pytest.fixture
def partners_down(app: Flask, make, matching_db_url: str, matching_app: Flask) -> Iterator[Flask]:
    """A second matching app whose partners service has gone away after it loaded the signing
    keys: tokens still verify, every call to partners fails to connect."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    engine, session_factory = matching_db.engine, matching_db.session_factory
    down = create_app(matching_config(f"http://127.0.0.1:{server.server_port}",
                                      matching_db_url))
    # Creating it made its Celery app the process default, which the test worker's thread
    # would then use to run tasks (with the dead partners): give the default back at once.
    matching_app.extensions["celery"].set_default()
    try:
        warm = down.test_client().get("/api/v1/programmes",
                                      headers=bearer(make.service_token()))
        assert warm.status_code == 200, warm.json
        server.shutdown()
        server.server_close()
        thread.join()
        yield down
    finally:
        # The second app re-bound the shared database object and Celery's default app.
        down_engine = matching_db.engine
        matching_db.engine, matching_db.session_factory = engine, session_factory
        down_engine.dispose()
        matching_app.extensions["celery"].set_default()


def test_approval_while_partners_is_down_changes_nothing_and_asks_to_retry(world, partners_down):
    offer, the_need, only = one_proposal(world)
    down = partners_down.test_client()
    before = fingerprint()

    response = down.post(f"/api/v1/proposals/{only['id']}/approve", headers=world.officer_h)
    body = problem(response, 503, "partners-unavailable")
    assert "try again" in body["detail"]
    assert response.headers["Retry-After"]
    response = down.post("/api/v1/proposals/approve", json={"proposal_ids": [only["id"]]},
                         headers=world.officer_h)
    assert response.status_code == 200
    [result] = response.json
    assert result["status"] == "unchanged" and "try again" in result["detail"]

    assert fingerprint() == before
    assert proposal(world, only["id"])["status"] == "proposed"
    assert (need(world, the_need["id"])["status"], need(world, the_need["id"])["covered"]) == (
        "open", 0)
    assert capacity(world, offer.id)["reserved"] == 0
    assert ledger(world, offer.id) == {}
    assert matching_outbox("proposal.approved") == []

    # Once partners answers again, the same approval goes through.
    assert approve(world, only["id"]).json["status"] == "approved"
    assert capacity(world, offer.id)["reserved"] == 4


def test_declining_while_partners_is_down_changes_nothing(world, partners_down):
    offer, the_need, approved = approved_proposal(world)
    before = fingerprint()
    response = partners_down.test_client().post(
        f"/api/v1/proposals/{approved['id']}/decline", json={"reason": "Pelatih kami sakit"},
        headers=world.company_h)
    body = problem(response, 503, "partners-unavailable")
    assert "try again" in body["detail"]
    assert fingerprint() == before
    assert proposal(world, approved["id"])["status"] == "approved"
    assert need(world, the_need["id"])["covered"] == 4
    assert capacity(world, offer.id)["reserved"] == 4
    assert matching_outbox("proposal.declined") == []


# --- concurrency and bulk ------------------------------------------------------------------------

def test_two_officers_approving_at_once_never_over_commit(world, matching_app):
    offer = world.offer(capacity=4)
    found = []
    for name in ("Sekoper Cinta Mustikasari 2027 A", "Sekoper Cinta Mustikasari 2027 B"):
        programme = world.programme(name=name)
        world.need(programme["id"], quantity=4)
        run = world.run(programme_id=programme["id"])
        [only] = world.proposals(run_id=run["id"])
        assert (only["offer_id"], only["quantity"]) == (str(offer.id), 4)
        found.append(only)
    second_officer = world.make.user("dp3a_officer")
    headers = [world.officer_h, bearer(world.make.token(second_officer))]
    barrier = threading.Barrier(2)
    answers: dict[str, Any] = {}

    def decide(index: int) -> None:
        client = matching_app.test_client()
        barrier.wait()
        answers[found[index]["id"]] = client.post(
            f"/api/v1/proposals/{found[index]['id']}/approve", headers=headers[index])

    threads = [threading.Thread(target=decide, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert all(r.status_code == 200 for r in answers.values()), [
        r.get_data(as_text=True) for r in answers.values()]
    statuses = sorted(r.json["status"] for r in answers.values())
    assert statuses == ["approved", "stale"]
    stale = next(r.json for r in answers.values() if r.json["status"] == "stale")
    assert "capacity" in stale["reason"] or "remain" in stale["reason"], stale["reason"]
    state = capacity(world, offer.id)
    assert (state["reserved"], state["capacity"], state["remaining"]) == (4, 4, 0)
    assert list(ledger(world, offer.id).values()) == ["reserved"]
    covered = sorted(need(world, p["need_id"])["covered"] for p in found)
    assert covered == [0, 4]
    assert len(matching_outbox("proposal.approved")) == 1
    assert matching_audit(action="proposal.stale", object_id=stale["id"])


def test_bulk_approval_answers_once_for_each_proposal(world):
    offer = world.offer(capacity=10)
    programme = world.programme()
    for title in ("Pelatih kelas pagi", "Pelatih kelas siang", "Pelatih kelas sore"):
        world.need(programme["id"], title=title, quantity=2)
    run = world.run()
    first, second, third = world.proposals(run_id=run["id"])
    world.client.post(f"/api/v1/proposals/{third['id']}/reject",
                      json={"reason": "Kelas sore ditiadakan"}, headers=world.officer_h)
    missing = str(uuid.uuid4())
    ids = [first["id"], second["id"], third["id"], missing]

    response = world.client.post("/api/v1/proposals/approve", json={"proposal_ids": ids},
                                 headers=world.officer_h)
    assert response.status_code == 200, response.json
    results = response.json
    assert [r["proposal_id"] for r in results] == ids
    assert [r["status"] for r in results] == ["approved", "approved", "unchanged", "unchanged"]
    assert "rejected" in results[2]["detail"]
    assert "No proposal" in results[3]["detail"]
    assert capacity(world, offer.id)["reserved"] == 4
    assert len(matching_outbox("proposal.approved")) == 2
    # Approving the same list again is a safe retry: nothing more is reserved.
    again = world.client.post("/api/v1/proposals/approve", json={"proposal_ids": ids[:2]},
                              headers=world.officer_h).json
    assert [r["status"] for r in again] == ["approved", "approved"]
    assert capacity(world, offer.id)["reserved"] == 4


# --- reject, decline, accept -----------------------------------------------------------------

def test_rejecting_with_a_reason_is_audited_and_announced(world):
    offer, the_need, only = one_proposal(world)
    reason = "Pelatih ini sudah mengajar di kelurahan lain pada jadwal yang sama"
    response = world.client.post(f"/api/v1/proposals/{only['id']}/reject",
                                 json={"reason": reason}, headers=world.officer_h)
    assert response.status_code == 200, response.json
    assert (response.json["status"], response.json["reason"]) == ("rejected", reason)
    [entry] = matching_audit(action="proposal.rejected", object_id=only["id"])
    assert entry.actor_id == str(world.officer.id)
    assert (entry.before["status"], entry.after["status"]) == ("proposed", "rejected")
    assert entry.after["reason"] == reason
    [event] = matching_outbox("proposal.rejected")
    assert event.payload["proposal_id"] == only["id"] and event.payload["reason"] == reason
    assert event.payload["need_id"] == the_need["id"]
    assert capacity(world, offer.id)["reserved"] == 0
    assert need(world, the_need["id"])["status"] == "open"


def test_the_partner_declining_releases_the_capacity_and_reopens_the_need(world):
    offer, the_need, approved = approved_proposal(world)
    assert (need(world, the_need["id"])["status"], capacity(world, offer.id)["reserved"]) == (
        "matched", 4)

    reason = "Pelatih kami berhalangan bulan ini"
    response = world.client.post(f"/api/v1/proposals/{approved['id']}/decline",
                                 json={"reason": reason}, headers=world.company_h)
    assert response.status_code == 200, response.json
    assert response.json["status"] == "declined"
    state = capacity(world, offer.id)
    assert (state["reserved"], state["remaining"]) == (0, 10)
    assert ledger(world, offer.id) == {approved["id"]: "released"}
    reopened = need(world, the_need["id"])
    assert (reopened["status"], reopened["covered"], reopened["remaining"]) == ("open", 0, 4)
    [event] = matching_outbox("proposal.declined")
    assert event.payload["proposal_id"] == approved["id"] and event.payload["reason"] == reason
    assert matching_audit(action="proposal.declined", object_id=approved["id"])
    # The reopened need is matched again by the next run.
    run = world.run()
    [again] = world.proposals(run_id=run["id"])
    assert (again["need_id"], again["status"], again["quantity"]) == (the_need["id"], "proposed", 4)


def test_the_partner_accepting_is_announced(world):
    _, _, approved = approved_proposal(world)
    response = world.client.post(f"/api/v1/proposals/{approved['id']}/accept",
                                 headers=world.company_h)
    assert response.status_code == 200, response.json
    assert response.json["status"] == "accepted" and response.json["accepted_at"]
    [event] = matching_outbox("proposal.accepted")
    assert event.payload["proposal_id"] == approved["id"]
    assert event.payload["organisation_id"] == str(world.company.id)
    [entry] = matching_audit(action="proposal.accepted", object_id=approved["id"])
    assert entry.actor_id == str(world.company_admin.id)


# --- delivery -------------------------------------------------------------------------------------

def test_only_the_needs_coordinator_confirms_delivery_and_only_of_an_approved_match(world):
    offer, the_need, only = one_proposal(world)
    delivery = {"delivered_quantity": 4, "rating": 4, "notes": "Materi bagus",
                "facilitator_notes": "Fasilitator perlu pendampingan"}
    path = f"/api/v1/proposals/{only['id']}/delivery"
    before = fingerprint()
    problem(world.client.post(path, json=delivery, headers=world.coordinator_h), 409,
            "illegal-transition")
    assert fingerprint() == before

    assert approve(world, only["id"]).json["status"] == "approved"
    other = world.make.user("coordinator", region_codes=[PADURENAN])
    before = fingerprint()
    problem(world.client.post(path, json=delivery, headers=bearer(world.make.token(other))), 403,
            "outside-your-regions")
    assert fingerprint() == before
    assert capacity(world, offer.id)["committed"] == 0

    response = world.client.post(path, json=delivery, headers=world.coordinator_h)
    assert response.status_code == 201, response.json
    assert (response.json["delivered_quantity"], response.json["rating"]) == (4, 4)
    assert response.json["facilitator_notes"] == "Fasilitator perlu pendampingan"
    assert response.json["confirmed_by"] == str(world.coordinator.id)
    assert proposal(world, only["id"])["status"] == "fulfilled"
    assert capacity(world, offer.id)["committed"] == 4
    assert need(world, the_need["id"])["status"] == "fulfilled"
    before = fingerprint()
    problem(world.client.post(path, json=delivery, headers=world.coordinator_h), 409,
            "illegal-transition")
    assert fingerprint() == before


def test_illegal_transitions_are_409_and_change_nothing(world):
    offer, _, only = one_proposal(world)
    pid = only["id"]
    reason = {"reason": "Tidak sesuai kebutuhan kelas"}

    before = fingerprint()
    body = problem(world.client.post(f"/api/v1/proposals/{pid}/accept", headers=world.company_h),
                   409, "illegal-transition")
    assert body["current_status"] == "proposed"
    problem(world.client.post(f"/api/v1/proposals/{pid}/decline", json=reason,
                              headers=world.company_h), 409, "illegal-transition")
    assert fingerprint() == before

    assert world.client.post(f"/api/v1/proposals/{pid}/reject", json=reason,
                             headers=world.officer_h).status_code == 200
    before = fingerprint()
    body = problem(approve(world, pid), 409, "illegal-transition")
    assert body["current_status"] == "rejected"
    problem(world.client.post(f"/api/v1/proposals/{pid}/reject", json=reason,
                              headers=world.officer_h), 409, "illegal-transition")
    problem(world.client.post(f"/api/v1/proposals/{pid}/accept", headers=world.company_h), 409,
            "illegal-transition")
    assert fingerprint() == before
    assert capacity(world, offer.id)["reserved"] == 0


def test_an_approved_match_cannot_be_rejected_nor_accepted_twice(world):
    _, _, approved = approved_proposal(world)
    pid = approved["id"]
    problem(world.client.post(f"/api/v1/proposals/{pid}/reject",
                              json={"reason": "Berubah pikiran"}, headers=world.officer_h),
            409, "illegal-transition")
    assert world.client.post(f"/api/v1/proposals/{pid}/accept",
                             headers=world.company_h).status_code == 200
    before = fingerprint()
    problem(world.client.post(f"/api/v1/proposals/{pid}/accept", headers=world.company_h), 409,
            "illegal-transition")
    body = problem(approve(world, pid), 409, "illegal-transition")
    assert body["current_status"] == "accepted"
    assert fingerprint() == before


# --- reconciliation --------------------------------------------------------------------------------

def _wait_until(check, what: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_reconciliation_releases_a_reservation_whose_proposal_was_never_approved(world):
    """E.g. the approval reserved at partners, then matching crashed before it committed."""
    offer, the_need, only = one_proposal(world)
    orphan = world.make.app.test_client().post(
        f"/api/v1/offers/{offer.id}/reservations", json={"reference": only["id"], "quantity": 4},
        headers=bearer(world.make.service_token()))
    assert orphan.status_code == 201
    assert capacity(world, offer.id)["reserved"] == 4

    with world.client.application.app_context():  # sent through matching's Celery app
        reconcile_reservations.delay()  # on the real worker, through Redis
    _wait_until(lambda: capacity(world, offer.id)["reserved"] == 0, "the release")
    assert ledger(world, offer.id) == {only["id"]: "released"}
    assert proposal(world, only["id"])["status"] == "proposed"
    assert need(world, the_need["id"])["covered"] == 0


def _reconcile(matching_app: Flask) -> dict[str, int]:
    with matching_app.app_context():
        fixed = decisions.reconcile(matching_db.session, partners())
        matching_db.session.commit()
        return fixed


def test_reconciliation_reserves_again_for_an_approved_proposal_partners_lost(world,
                                                                            matching_app):
    """E.g. partners' database was restored from a backup taken before the approval."""
    offer, the_need, approved = approved_proposal(world)
    with world.make.app.app_context():
        partners_db.session.execute(sa.delete(CapacityEntry).where(
            CapacityEntry.offer_id == offer.id))
        partners_db.session.execute(sa.update(Offer).where(Offer.id == offer.id).values(
            reserved=0))
        partners_db.session.commit()
    assert capacity(world, offer.id)["reserved"] == 0

    assert _reconcile(matching_app) == {"reserved": 1, "released": 0, "stale": 0}
    assert capacity(world, offer.id)["reserved"] == 4
    assert ledger(world, offer.id) == {approved["id"]: "reserved"}
    assert proposal(world, approved["id"])["status"] == "approved"
    assert need(world, the_need["id"])["covered"] == 4
    # Nothing left to repair: a second pass changes nothing.
    assert _reconcile(matching_app) == {"reserved": 0, "released": 0, "stale": 0}
    assert capacity(world, offer.id)["reserved"] == 4


def test_reconciliation_of_an_approved_proposal_released_at_partners(world, matching_app):
    """Partners refuses to reuse a released reference, so the approval cannot be restored:
    the proposal turns stale with a reason and its need is open for matching again."""
    offer, the_need, approved = approved_proposal(world)
    released = world.make.app.test_client().post(
        f"/api/v1/offers/{offer.id}/reservations/{approved['id']}/release",
        headers=bearer(world.make.service_token()))
    assert released.status_code == 200

    assert _reconcile(matching_app) == {"reserved": 0, "released": 0, "stale": 1}
    now = proposal(world, approved["id"])
    assert now["status"] == "stale" and "released" in now["reason"]
    assert "reference" not in now["reason"]  # the officer is told what happened, plainly
    reopened = need(world, the_need["id"])
    assert (reopened["status"], reopened["covered"]) == ("open", 0)
    [event] = matching_outbox("proposal.stale")  # DP3A and the partner will be told
    assert event.payload["proposal_id"] == approved["id"] and event.payload["reason"]
    assert capacity(world, offer.id)["reserved"] == 0
    assert matching_audit(action="proposal.stale", object_id=approved["id"])
    with matching_db.session_factory() as session:
        assert session.get(Proposal, uuid.UUID(approved["id"])).stale_at is not None
        assert session.get(Need, uuid.UUID(the_need["id"])).covered == 0


def test_delivery_cannot_report_more_than_was_approved(world):
    offer, _, approved = approved_proposal(world)
    before = fingerprint()
    response = world.client.post(f"/api/v1/proposals/{approved['id']}/delivery",
                                 json={"delivered_quantity": 5, "rating": 5},
                                 headers=world.coordinator_h)
    assert response.status_code == 422 and "delivered_quantity" in response.json["errors"]
    assert fingerprint() == before
    assert capacity(world, offer.id)["committed"] == 0


def test_a_need_with_approved_matches_cannot_be_cancelled(world):
    _, the_need, only = one_proposal(world, quantity=12)  # the offer has 10: partly matched
    assert approve(world, only["id"]).json["status"] == "approved"
    assert need(world, the_need["id"])["status"] == "partially_matched"
    before = fingerprint()
    problem(world.client.post(f"/api/v1/needs/{the_need['id']}/cancel",
                              headers=world.officer_h), 409, "need-has-approved-matches")
    assert fingerprint() == before
    assert need(world, the_need["id"])["status"] == "partially_matched"


def test_the_coordinator_is_asked_once_for_feedback_when_the_window_has_passed(world,
                                                                             matching_app):
    from datetime import timedelta

    from services.matching.operations.needs import request_feedback
    from shared.audit import Actor
    from shared.clock import today_wib

    _, the_need, _ = approved_proposal(world)
    later = today_wib() + timedelta(days=90)  # the need's window (60 days) has passed
    beat = Actor(id="system:beat", role="system", kind="service")
    with matching_app.app_context():
        assert request_feedback(matching_db.session, beat, today_wib()) == 0  # not yet
        assert request_feedback(matching_db.session, beat, later) == 1
        matching_db.session.commit()
        assert request_feedback(matching_db.session, beat, later) == 0  # once
        matching_db.session.commit()
    [event] = matching_outbox("feedback.requested")
    assert event.payload["need_id"] == the_need["id"]
    assert event.payload["need_region"] == the_need["region"]
