"""The capacity ledger: reserve, commit and release, each keyed by the caller's reference,
safe to retry, and never over-committed, even under concurrent requests on a real server."""
from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from services.partners.models import CapacityEntry, Offer, db
from services.partners.operations import organisations
from shared.clock import today_wib
from tests.partners.conftest import SYSTEM, audit_entries, bearer, count_rows, outbox_events


@pytest.fixture
def ledger(make):
    """Headers of the matching service, the ledger's usual caller."""
    return bearer(make.service_token())


@pytest.fixture
def offer(make):
    """An active trainer offer of 10 sessions."""
    _, admin = make.organisation()
    return make.offer(admin, capacity=10)


def reserve(client, headers, offer_id, reference, quantity):
    return client.post(f"/api/v1/offers/{offer_id}/reservations",
                       json={"reference": reference, "quantity": quantity}, headers=headers)


def act(client, headers, offer_id, reference, action):
    return client.post(f"/api/v1/offers/{offer_id}/reservations/{reference}/{action}",
                       headers=headers)


def capacity(client, headers, offer_id) -> dict:
    response = client.get(f"/api/v1/offers/{offer_id}/capacity", headers=headers)
    assert response.status_code == 200, response.json
    return response.json


def ledger_rows(app, offer_id) -> list[CapacityEntry]:
    with app.app_context():
        return list(db.session.scalars(sa.select(CapacityEntry).where(
            CapacityEntry.offer_id == offer_id).order_by(CapacityEntry.reference)))


# --- reserve, commit, release -------------------------------------------------------------

def test_the_matching_service_reserves_capacity(client, app, offer, ledger):
    response = reserve(client, ledger, offer.id, "proposal-1", 4)
    assert response.status_code == 201, response.json
    assert response.json["reference"] == "proposal-1"
    assert (response.json["quantity"], response.json["state"]) == (4, "reserved")
    assert response.json["offer_id"] == str(offer.id)
    assert capacity(client, ledger, offer.id) == {
        "offer_id": str(offer.id), "unit": "sessions", "capacity": 10, "reserved": 4,
        "committed": 0, "remaining": 6, "status": "active"}
    [entry] = audit_entries(app, action="capacity.reserved")
    assert (entry.object_type, entry.object_id) == ("offer", str(offer.id))
    assert entry.actor_id == "service:matching"
    assert entry.before["reserved"] == 0
    assert (entry.after["reserved"], entry.after["reference"], entry.after["quantity"]) == (
        4, "proposal-1", 4)


def test_a_dp3a_officer_may_reserve_too(client, app, make, offer):
    officer = make.user("dp3a_officer")
    response = reserve(client, bearer(make.token(officer)), offer.id, "manual-1", 2)
    assert response.status_code == 201
    [entry] = audit_entries(app, action="capacity.reserved")
    assert entry.actor_id == str(officer.id)


def test_a_retried_reservation_changes_nothing(client, app, offer, ledger):
    first = reserve(client, ledger, offer.id, "proposal-1", 4)
    again = reserve(client, ledger, offer.id, "proposal-1", 4)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json == first.json
    assert capacity(client, ledger, offer.id)["reserved"] == 4
    assert len(ledger_rows(app, offer.id)) == 1
    assert len(audit_entries(app, action="capacity.reserved")) == 1


def test_the_same_reference_with_another_quantity_is_refused(client, app, offer, ledger):
    reserve(client, ledger, offer.id, "proposal-1", 4)
    response = reserve(client, ledger, offer.id, "proposal-1", 5)
    assert response.status_code == 409
    assert response.content_type == "application/problem+json"
    assert response.json["type"].endswith("reference-reused")
    assert capacity(client, ledger, offer.id)["reserved"] == 4
    assert [e.quantity for e in ledger_rows(app, offer.id)] == [4]


def test_asking_for_more_than_remains_is_refused_with_what_remains(client, app, offer, ledger):
    reserve(client, ledger, offer.id, "proposal-1", 7)
    response = reserve(client, ledger, offer.id, "proposal-2", 4)
    assert response.status_code == 409
    assert response.json["type"].endswith("capacity-exhausted")
    assert response.json["remaining"] == 3
    assert capacity(client, ledger, offer.id)["reserved"] == 7
    assert [e.reference for e in ledger_rows(app, offer.id)] == ["proposal-1"]
    assert len(audit_entries(app, action="capacity.reserved")) == 1


def test_reserving_all_exhausts_the_offer_and_releasing_reopens_it(client, app, offer, ledger):
    reserve(client, ledger, offer.id, "proposal-1", 6)
    response = reserve(client, ledger, offer.id, "proposal-2", 4)
    assert response.status_code == 201
    state = capacity(client, ledger, offer.id)
    assert (state["remaining"], state["status"]) == (0, "exhausted")
    assert outbox_events(app, "offer.exhausted")[-1].payload["offer_id"] == str(offer.id)
    full = reserve(client, ledger, offer.id, "proposal-3", 1)
    assert full.status_code == 409 and full.json["type"].endswith("capacity-exhausted")
    assert full.json["remaining"] == 0
    released = act(client, ledger, offer.id, "proposal-2", "release")
    assert released.status_code == 200 and released.json["state"] == "released"
    state = capacity(client, ledger, offer.id)
    assert (state["reserved"], state["remaining"], state["status"]) == (6, 4, "active")
    assert outbox_events(app, "offer.activated")[-1].payload["remaining"] == 4
    assert reserve(client, ledger, offer.id, "proposal-3", 1).status_code == 201


def test_retrying_the_reservation_that_exhausted_the_offer_still_answers_200(client, offer,
                                                                            ledger):
    first = reserve(client, ledger, offer.id, "proposal-all", 10)
    assert first.status_code == 201
    again = reserve(client, ledger, offer.id, "proposal-all", 10)
    assert again.status_code == 200 and again.json == first.json
    state = capacity(client, ledger, offer.id)
    assert (state["reserved"], state["status"]) == (10, "exhausted")


def test_reserving_on_an_offer_whose_window_has_ended_is_refused(client, app, offer, ledger):
    with app.app_context():
        db.session.execute(sa.update(Offer).where(Offer.id == offer.id).values(
            available_from=today_wib() - timedelta(days=20),
            available_to=today_wib() - timedelta(days=1)))
        db.session.commit()
    response = reserve(client, ledger, offer.id, "proposal-1", 1)
    assert response.status_code == 409
    assert response.json["type"].endswith("offer-not-active")
    assert capacity(client, ledger, offer.id)["reserved"] == 0


def test_commit_moves_a_reservation_to_committed_once(client, app, offer, ledger):
    reserve(client, ledger, offer.id, "proposal-1", 4)
    response = act(client, ledger, offer.id, "proposal-1", "commit")
    assert response.status_code == 200
    assert response.json["state"] == "committed" and response.json["committed_at"]
    state = capacity(client, ledger, offer.id)
    assert (state["reserved"], state["committed"], state["remaining"]) == (0, 4, 6)
    again = act(client, ledger, offer.id, "proposal-1", "commit")
    assert again.status_code == 200 and again.json == response.json
    state = capacity(client, ledger, offer.id)
    assert (state["reserved"], state["committed"], state["remaining"]) == (0, 4, 6)
    [entry] = audit_entries(app, action="capacity.committed")
    assert (entry.before["reserved"], entry.before["committed"]) == (4, 0)
    assert (entry.after["reserved"], entry.after["committed"]) == (0, 4)
    assert entry.after["reference"] == "proposal-1"


def test_releasing_a_commitment_gives_the_capacity_back(client, app, offer, ledger):
    reserve(client, ledger, offer.id, "proposal-1", 4)
    act(client, ledger, offer.id, "proposal-1", "commit")
    response = act(client, ledger, offer.id, "proposal-1", "release")
    assert response.status_code == 200
    assert response.json["state"] == "released" and response.json["released_at"]
    state = capacity(client, ledger, offer.id)
    assert (state["reserved"], state["committed"], state["remaining"]) == (0, 0, 10)
    again = act(client, ledger, offer.id, "proposal-1", "release")
    assert again.status_code == 200 and again.json == response.json
    assert capacity(client, ledger, offer.id)["remaining"] == 10
    [entry] = audit_entries(app, action="capacity.released")
    assert (entry.before["committed"], entry.after["committed"]) == (4, 0)


def test_a_released_reference_cannot_be_reserved_or_committed_again(client, app, offer, ledger):
    reserve(client, ledger, offer.id, "proposal-1", 4)
    act(client, ledger, offer.id, "proposal-1", "release")
    response = reserve(client, ledger, offer.id, "proposal-1", 4)
    assert response.status_code == 409
    assert response.json["type"].endswith("reference-released")
    commit = act(client, ledger, offer.id, "proposal-1", "commit")
    assert commit.status_code == 409
    state = capacity(client, ledger, offer.id)
    assert (state["reserved"], state["committed"]) == (0, 0)
    assert [e.state for e in ledger_rows(app, offer.id)] == ["released"]


def test_commit_or_release_of_an_unknown_reference_is_404(client, offer, ledger):
    assert act(client, ledger, offer.id, "nobody", "commit").status_code == 404
    assert act(client, ledger, offer.id, "nobody", "release").status_code == 404
    assert reserve(client, ledger, uuid.uuid4(), "proposal-1", 1).status_code == 404


def test_the_same_reference_on_two_offers_are_two_entries(client, app, make, offer, ledger):
    _, admin = make.organisation()
    other = make.offer(admin, capacity=5)
    assert reserve(client, ledger, offer.id, "proposal-1", 3).status_code == 201
    assert reserve(client, ledger, other.id, "proposal-1", 3).status_code == 201
    assert capacity(client, ledger, offer.id)["reserved"] == 3
    assert capacity(client, ledger, other.id)["reserved"] == 3


@pytest.mark.parametrize("body, field", [
    ({"reference": "p-1", "quantity": 0}, "quantity"),
    ({"reference": "p-1", "quantity": -1}, "quantity"),
    ({"reference": "p-1", "quantity": 1.5}, "quantity"),
    ({"reference": "p-1", "quantity": "1"}, "quantity"),
    ({"reference": "p-1"}, "quantity"),
    ({"reference": "", "quantity": 1}, "reference"),
    ({"reference": "a b/c", "quantity": 1}, "reference"),
    ({"reference": "p-1", "quantity": 1, "state": "committed"}, "state"),
])
def test_bad_reservations_are_422(client, app, offer, ledger, body, field):
    response = client.post(f"/api/v1/offers/{offer.id}/reservations", json=body,
                           headers=ledger)
    assert response.status_code == 422 and field in response.json["errors"]
    assert count_rows(app, CapacityEntry) == 0


def test_the_ledger_of_an_offer_lists_its_entries(client, offer, ledger):
    reserve(client, ledger, offer.id, "proposal-1", 2)
    reserve(client, ledger, offer.id, "proposal-2", 3)
    act(client, ledger, offer.id, "proposal-2", "commit")
    response = client.get(f"/api/v1/offers/{offer.id}/reservations", headers=ledger)
    assert response.status_code == 200
    assert sorted((e["reference"], e["quantity"], e["state"]) for e in response.json) == [
        ("proposal-1", 2, "reserved"), ("proposal-2", 3, "committed")]


# --- who may touch the ledger, and when ---------------------------------------------------

@pytest.mark.parametrize("role", ["partner_admin", "partner_member", "coordinator"])
def test_partners_and_coordinators_cannot_touch_the_ledger(client, app, make, offer, ledger,
                                                           role):
    reserve(client, ledger, offer.id, "proposal-1", 2)
    with app.app_context():
        owner_org = db.session.get(Offer, offer.id).organisation
    user = make.user(role, owner_org if role != "coordinator" else None)
    headers = bearer(make.token(user))
    assert reserve(client, headers, offer.id, "mine", 1).status_code == 403
    assert act(client, headers, offer.id, "proposal-1", "commit").status_code == 403
    assert act(client, headers, offer.id, "proposal-1", "release").status_code == 403
    state = capacity(client, ledger, offer.id)
    assert (state["reserved"], state["committed"]) == (2, 0)
    assert len(ledger_rows(app, offer.id)) == 1
    assert client.post(f"/api/v1/offers/{offer.id}/reservations",
                       json={"reference": "anon", "quantity": 1}).status_code == 401


@pytest.mark.parametrize("status, problem", [
    ("draft", "offer-not-active"),
    ("withdrawn", "offer-not-active"),
])
def test_reserving_on_an_offer_that_is_not_active_is_refused(client, app, make, ledger, status,
                                                             problem):
    _, admin = make.organisation()
    offer = make.offer(admin, status=status)
    response = reserve(client, ledger, offer.id, "proposal-1", 1)
    assert response.status_code == 409
    assert response.json["type"].endswith(problem)
    assert count_rows(app, CapacityEntry) == 0


def test_reserving_on_a_pending_organisations_submitted_offer_is_refused(client, app, make,
                                                                         ledger):
    _, admin = make.organisation(status="pending")
    offer = make.offer(admin)
    assert offer.status == "submitted"
    assert reserve(client, ledger, offer.id, "proposal-1", 1).status_code == 409
    assert count_rows(app, CapacityEntry) == 0


def test_reserving_on_an_offer_of_a_suspended_organisation_is_refused(client, app, make,
                                                                      ledger):
    organisation, admin = make.organisation()
    offer = make.offer(admin)
    with app.app_context():
        organisations.change_status(db.session, SYSTEM, db.session.merge(organisation),
                                    "suspend", "Investigasi")
        db.session.commit()
    response = reserve(client, ledger, offer.id, "proposal-1", 1)
    assert response.status_code == 409
    assert response.json["type"].endswith("offer-not-active")
    assert count_rows(app, CapacityEntry) == 0
    assert audit_entries(app, action="capacity.reserved") == []


def test_an_existing_reservation_can_still_be_released_after_withdrawal(client, make, ledger):
    _, admin = make.organisation()
    offer = make.offer(admin)
    reserve(client, ledger, offer.id, "proposal-1", 3)
    client.post(f"/api/v1/offers/{offer.id}/withdraw", headers=bearer(make.token(admin)))
    assert reserve(client, ledger, offer.id, "proposal-2", 1).status_code == 409
    assert act(client, ledger, offer.id, "proposal-1", "release").status_code == 200
    state = capacity(client, ledger, offer.id)
    assert (state["reserved"], state["status"]) == (0, "withdrawn")


def test_every_ledger_write_is_audited_and_retries_are_not(client, app, offer, ledger):
    reserve(client, ledger, offer.id, "proposal-1", 2)
    reserve(client, ledger, offer.id, "proposal-1", 2)
    reserve(client, ledger, offer.id, "proposal-2", 3)
    act(client, ledger, offer.id, "proposal-1", "commit")
    act(client, ledger, offer.id, "proposal-1", "commit")
    act(client, ledger, offer.id, "proposal-2", "release")
    act(client, ledger, offer.id, "proposal-2", "release")
    act(client, ledger, offer.id, "proposal-1", "release")
    entries = [e for e in audit_entries(app, object_id=offer.id)
               if e.action.startswith("capacity.")]
    assert [(e.action, e.after["reference"]) for e in entries] == [
        ("capacity.reserved", "proposal-1"), ("capacity.reserved", "proposal-2"),
        ("capacity.committed", "proposal-1"), ("capacity.released", "proposal-2"),
        ("capacity.released", "proposal-1")]
    assert all(e.actor_id == "service:matching" for e in entries)
    assert entries[-1].after["committed"] == 0 and entries[-1].after["reserved"] == 0


# --- concurrency on a real server ---------------------------------------------------------

def _concurrently(count: int, call) -> list[int]:
    """Run `call(i)` in `count` threads that start together; their status codes."""
    barrier = threading.Barrier(count)

    def run(index: int) -> int:
        with requests.Session() as session:
            barrier.wait(timeout=30)
            return call(session, index)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def test_fifty_concurrent_reservations_never_overbook_ten_sessions(live_server, app, make,
                                                                  offer):
    token = make.service_token()
    url = f"{live_server}/api/v1/offers/{offer.id}/reservations"

    def post(session: requests.Session, index: int) -> int:
        response = session.post(url, json={"reference": f"proposal-{index}", "quantity": 1},
                                headers=bearer(token), timeout=60)
        if response.status_code == 409:
            assert response.json()["type"].endswith("capacity-exhausted")
        return response.status_code

    codes = _concurrently(50, post)
    assert codes.count(201) == 10
    assert codes.count(409) == 40
    state = requests.get(f"{live_server}/api/v1/offers/{offer.id}/capacity",
                         headers=bearer(token), timeout=10).json()
    assert (state["reserved"], state["remaining"], state["status"]) == (10, 0, "exhausted")
    rows = ledger_rows(app, offer.id)
    assert len(rows) == 10
    assert sum(row.quantity for row in rows) == 10
    assert len(audit_entries(app, action="capacity.reserved")) == 10
    assert len(outbox_events(app, "offer.exhausted")) == 1


def test_twenty_concurrent_retries_of_one_reference_make_one_entry(live_server, app, make,
                                                                   offer):
    token = make.service_token()
    url = f"{live_server}/api/v1/offers/{offer.id}/reservations"

    def post(session: requests.Session, index: int) -> int:
        return session.post(url, json={"reference": "proposal-same", "quantity": 3},
                            headers=bearer(token), timeout=60).status_code

    codes = _concurrently(20, post)
    assert sorted(codes) == [200] * 19 + [201]
    state = requests.get(f"{live_server}/api/v1/offers/{offer.id}/capacity",
                         headers=bearer(token), timeout=10).json()
    assert (state["reserved"], state["remaining"]) == (3, 7)
    [row] = ledger_rows(app, offer.id)
    assert (row.reference, row.quantity, row.state) == ("proposal-same", 3, "reserved")
    assert len(audit_entries(app, action="capacity.reserved")) == 1


def test_the_database_itself_refuses_over_commitment(app, offer):
    with app.app_context():
        statement = sa.update(Offer).where(Offer.id == offer.id)
        with pytest.raises(IntegrityError, match="ledger_within_capacity"):
            db.session.execute(statement.values(reserved=6, committed=5))
        db.session.rollback()
        with pytest.raises(IntegrityError, match="ledger_within_capacity"):
            db.session.execute(statement.values(reserved=11))
        db.session.rollback()
        with pytest.raises(IntegrityError, match="ledger_non_negative"):
            db.session.execute(statement.values(reserved=-1))
        db.session.rollback()
        db.session.execute(statement.values(reserved=6, committed=4))  # exactly full is fine
        db.session.commit()
        stored = db.session.get(Offer, offer.id)
        db.session.refresh(stored)
        assert (stored.reserved, stored.committed, stored.remaining) == (6, 4, 0)
