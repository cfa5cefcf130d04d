"""DP3A reads the audit log: filtered by object, actor, action and time, newest first."""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from services.partners.models import AuditEntry, db
from tests.partners.conftest import bearer

URL = "/api/v1/audit-log"
WIB = timezone(timedelta(hours=7))


@pytest.fixture
def officer(make):
    return bearer(make.token(make.user("dp3a_officer")))


def read(client, headers, **query) -> list[dict]:
    response = client.get(URL, query_string=query, headers=headers)
    assert response.status_code == 200, response.json
    return response.json


def store(app, *entries: tuple[str, datetime, str]) -> list[str]:
    """Audit entries (action, occurred_at, object_id) as if written at those times; their ids."""
    ids = []
    with app.app_context():
        for action, occurred_at, object_id in entries:
            entry = AuditEntry(id=uuid.uuid4(), occurred_at=occurred_at, actor_id="system:test",
                               actor_role="system", action=action, object_type="offer",
                               object_id=object_id, before=None, after={"n": action})
            db.session.add(entry)
            ids.append(str(entry.id))
        db.session.commit()
    return ids


def test_dp3a_follows_the_history_of_one_offer(client, make, officer):
    organisation, admin = make.organisation()
    partner = bearer(make.token(admin))
    offer = client.post("/api/v1/offers", headers=partner, json={
        "kind": "module", "title": "Modul parenting", "topics": ["parenting"],
        "unit": "seats", "capacity": 30, "available_from": "2099-01-01",
        "available_to": "2099-06-30", "delivery_regions": ["32.75.11"], "mode": "online"}).json
    client.post(f"/api/v1/offers/{offer['id']}/submit", headers=partner)
    other = make.offer(admin)
    client.post(f"/api/v1/offers/{offer['id']}/reservations",
                json={"reference": "proposal-1", "quantity": 5},
                headers=bearer(make.token(make.user("dp3a_admin"))))
    history = read(client, officer, object_type="offer", object_id=offer["id"])
    assert [e["action"] for e in history] == [
        "capacity.reserved", "offer.submit", "offer.created"]
    assert all(e["object_id"] == offer["id"] for e in history)
    assert history[1]["actor_id"] == str(admin.id)
    assert history[1]["actor_role"] == "partner_admin"
    assert (history[1]["before"]["status"], history[1]["after"]["status"]) == (
        "draft", "active")
    assert history[2]["before"] is None
    assert [e["action"] for e in read(client, officer, object_type="offer",
                                      object_id=str(other.id))] == ["offer.submit",
                                                                    "offer.created"]
    assert read(client, officer, object_type="organisation", object_id=offer["id"]) == []
    organisation_history = read(client, officer, object_type="organisation",
                                object_id=str(organisation.id))
    assert [e["action"] for e in organisation_history] == [
        "organisation.verify", "organisation.registered"]


def test_filter_by_actor_and_by_action(client, make, officer):
    _, first = make.organisation()
    _, second = make.organisation()
    for admin, title in ((first, "Pelatih satu"), (second, "Pelatih dua"),
                         (first, "Pelatih tiga")):
        client.post("/api/v1/offers", headers=bearer(make.token(admin)), json={
            "kind": "trainer", "title": title, "topics": ["kewirausahaan"],
            "unit": "sessions", "capacity": 4, "available_from": "2099-01-01",
            "available_to": "2099-02-01", "delivery_regions": ["32.75"], "mode": "onsite"})
    by_first = read(client, officer, actor_id=str(first.id))
    assert {e["actor_id"] for e in by_first} == {str(first.id)}
    # her registration, then her two offers, newest first
    assert [e["action"] for e in by_first[:2]] == ["offer.created", "offer.created"]
    assert [e["after"]["title"] for e in by_first[:2]] == ["Pelatih tiga", "Pelatih satu"]
    assert sorted(e["action"] for e in by_first[2:]) == [
        "organisation.registered", "user.created"]
    created = read(client, officer, action="offer.created")
    assert [e["after"]["title"] for e in created] == [
        "Pelatih tiga", "Pelatih dua", "Pelatih satu"]
    assert read(client, officer, action="offer.created", actor_id=str(second.id))[0][
        "after"]["title"] == "Pelatih dua"
    assert read(client, officer, action="offer.withdraw") == []
    registered = read(client, officer, action="organisation.registered")
    assert len(registered) == 2


def test_filter_by_time_with_aware_datetimes(client, app, officer):
    t = datetime(2026, 3, 1, 1, 0, tzinfo=timezone.utc)
    ids = store(app, ("a.first", t, "o-1"), ("a.second", t + timedelta(hours=1), "o-1"),
                ("a.third", t + timedelta(hours=2), "o-2"),
                ("a.fourth", t + timedelta(days=1), "o-2"))
    everything = read(client, officer)
    assert [e["id"] for e in everything] == list(reversed(ids))
    since = read(client, officer, since=(t + timedelta(minutes=30)).isoformat())
    assert [e["action"] for e in since] == ["a.fourth", "a.third", "a.second"]
    until = read(client, officer, until=(t + timedelta(minutes=90)).isoformat())
    assert [e["action"] for e in until] == ["a.second", "a.first"]
    between = read(client, officer, since="2026-03-01T01:30:00Z",
                   until="2026-03-01T12:00:00Z")
    assert [e["action"] for e in between] == ["a.third", "a.second"]
    # the same instant written in WIB: 08:30 in Jakarta is 01:30 UTC
    in_wib = read(client, officer, since="2026-03-01T08:30:00+07:00",
                  until=(t + timedelta(hours=11)).astimezone(WIB).isoformat())
    assert [e["action"] for e in in_wib] == ["a.third", "a.second"]
    combined = read(client, officer, since="2026-03-01T01:30:00Z", object_id="o-2")
    assert [e["action"] for e in combined] == ["a.fourth", "a.third"]
    occurred = datetime.fromisoformat(everything[0]["occurred_at"])
    assert occurred == t + timedelta(days=1)


@pytest.mark.parametrize("name", ["since", "until"])
def test_a_naive_datetime_is_refused(client, officer, name):
    response = client.get(URL, query_string={name: "2026-03-01T08:00:00"}, headers=officer)
    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    assert name in response.json["errors"]
    response = client.get(URL, query_string={name: "kemarin"}, headers=officer)
    assert response.status_code == 422 and name in response.json["errors"]


def test_the_log_is_paginated_newest_first(client, app, officer):
    t = datetime(2026, 5, 1, tzinfo=timezone.utc)
    ids = store(app, *[(f"a.n{n}", t + timedelta(minutes=n), "o-1") for n in range(7)])
    first = client.get(URL, query_string={"page_size": 3}, headers=officer)
    meta = json.loads(first.headers["X-Pagination"])
    assert (meta["total"], meta["total_pages"], meta["page"]) == (7, 3, 1)
    pages = [first.json] + [read(client, officer, page_size=3, page=n) for n in (2, 3)]
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [e["id"] for p in pages for e in p] == list(reversed(ids))
    filtered = client.get(URL, query_string={"page_size": 3, "since": (
        t + timedelta(minutes=5)).isoformat()}, headers=officer)
    assert json.loads(filtered.headers["X-Pagination"])["total"] == 2


def test_dp3a_admins_read_it_too(client, make):
    admin = make.user("dp3a_admin")
    assert client.get(URL, headers=bearer(make.token(admin))).status_code == 200


@pytest.mark.parametrize("role", ["partner_admin", "partner_member", "coordinator"])
def test_partners_and_coordinators_cannot_read_the_log(client, make, role):
    user = make.user(role)
    response = client.get(URL, headers=bearer(make.token(user)))
    assert response.status_code == 403
    assert response.content_type == "application/problem+json"
    assert client.get(URL, headers=bearer(make.service_token())).status_code == 403
    assert client.get(URL).status_code == 401
