"""Events travel from the outboxes of partners and matching through the relay to notify, and
end as messages: real PostgreSQL, Redis, Celery workers (partners' and matching's relays,
notify's deliveries), notify on a real HTTP server that a test can stop, a real SMTP server
and a real webhook receiver."""
from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from celery.beat import EmbeddedService
from flask import Flask
from sqlalchemy.orm import sessionmaker

from services.matching.models import db as matching_db
from services.notify.models import Event, Notification
from services.notify.models import db as notify_db
from services.partners.models import db as partners_db
from shared import outbox
from shared.db import ServiceDatabase, create_engine, utcnow
from shared.outbox_relay import NotifyPoster, RelayError, relay_pending, trigger_after_commit
from tests.conftest import NOTIFY_URL, NotifyServer, consume_outbox  # noqa: F401
from tests.notify.conftest import decoded, wait_for
from tests.partners.conftest import MUSTIKASARI, PASSWORD, bearer

SETTLED = ("sent", "failed")


def _empty_notify() -> None:
    with notify_db.engine.begin() as connection:
        for table in reversed(notify_db.metadata.sorted_tables):
            if table.name not in ("alembic_version", "templates"):
                connection.execute(table.delete())
        connection.execute(sa.text("DELETE FROM templates WHERE version > 1"))


@pytest.fixture
def relay(app: Flask, matching_app: Flask, notify_app: Flask, notify_worker, partners_worker,
          celery_worker, clean_notify, clean_matching, smtp_server, webhook_receiver
          ) -> Iterator[NotifyServer]:
    """Notify up at NOTIFY_URL, and partners' and matching's workers relaying their outboxes
    (only during these tests), from empty outboxes and an empty notify (whatever earlier
    tests left is gone). Ask for it before `world`."""
    for database in (partners_db, matching_db):
        with database.engine.begin() as connection:
            connection.execute(database.OutboxEvent.__table__.delete())
    _empty_notify()
    smtp_server[0].clear()
    webhook_receiver.calls.clear()
    workers = ((app, partners_worker), (matching_app, celery_worker))
    for service, worker in workers:
        consume_outbox(service, worker, on=True)
    server = NotifyServer(notify_app)
    server.start()
    yield server
    for service, worker in workers:  # first, so that a relay under way still finds notify
        consume_outbox(service, worker, on=False)
    server.stop()


@pytest.fixture
def sweepers(app: Flask, matching_app: Flask, tmp_path: Path) -> Iterator[None]:
    """Celery beat (in threads) for partners and matching: their outbox sweepers, every
    OUTBOX_SWEEP_S (1 s in the tests)."""
    beats = [EmbeddedService(service.extensions["celery"], thread=True,
                             schedule_filename=str(tmp_path / f"beat-{name}"))
             for name, service in (("partners", app), ("matching", matching_app))]
    for beat in beats:
        beat.start()
    yield
    for beat in beats:
        beat.stop()
        beat.join()


# --- looking at the three services --------------------------------------------------------------

def outbox_rows(database: ServiceDatabase) -> list[Any]:
    with database.session_factory() as session:
        model = database.OutboxEvent
        return list(session.scalars(sa.select(model).order_by(model.occurred_at, model.id)))


def notify_events() -> list[Event]:
    with notify_db.session_factory() as session:
        return list(session.scalars(sa.select(Event).order_by(Event.received_at)))


def notifications() -> list[Notification]:
    with notify_db.session_factory() as session:
        return list(session.scalars(sa.select(Notification).order_by(Notification.created_at)))


def settled() -> bool:
    """Every outbox row relayed, every event fanned out, every notification sent or failed."""
    if any(row.published_at is None for database in (partners_db, matching_db)
           for row in outbox_rows(database)):
        return False
    if any(event.processed_at is None for event in notify_events()):
        return False
    return all(n.status in SETTLED for n in notifications())


def settle(seconds: float = 30) -> None:
    wait_for(settled, seconds, what="the outboxes relayed and every notification settled")


def mail_to(inbox: Any, address: str) -> list[Message]:
    return inbox.to(address)


def subjects(messages: list[Message]) -> list[str]:
    return sorted(m["Subject"] for m in messages)


def registration(n: str, locale: str) -> dict[str, Any]:
    return {
        "kind": "company", "name": f"PT Relai {n} (fiktif)", "nib": f"{int(n):013d}",
        "npwp": f"{int(n):016d}", "sector": "Uji", "address_region": MUSTIKASARI,
        "operating_regions": ["32.75.11"], "contact_name": "Kontak Relai",
        "contact_email": f"kontak{n}@relai.example", "contact_phone": "0812-3456-7890",
        "admin": {"name": f"Admin Relai {n}", "email": f"admin{n}-{uuid.uuid4().hex[:6]}"
                  "@relai.example", "password": PASSWORD, "locale": locale},
    }


def register(client: Any, n: str, locale: str) -> dict[str, Any]:
    response = client.post("/api/v1/organisations", json=registration(n, locale))
    assert response.status_code == 201, response.json
    return response.json


def decide(client: Any, officer_h: dict[str, str], organisation_id: str, action: str,
           reason: str | None = None) -> None:
    body = {"reason": reason} if reason else {}
    response = client.post(f"/api/v1/organisations/{organisation_id}/{action}", json=body,
                           headers=officer_h)
    assert response.status_code == 200, response.json


# --- the tests ---------------------------------------------------------------------------------

def test_an_organisation_verified_in_partners_ends_as_an_email(relay, app, make, smtp_server):
    inbox, _ = smtp_server
    client = app.test_client()
    officer = make.user("dp3a_officer")  # announced by user.created: notify learns of them
    officer_h = bearer(make.token(officer))

    registered = register(client, "1", locale="en")
    organisation, admin = registered["organisation"], registered["admin"]
    decide(client, officer_h, organisation["id"], "verify")

    [mail] = wait_for(lambda: mail_to(inbox, admin["email"]), what="the admin's email")
    assert mail["Subject"] == "PT Relai 1 (fiktif) is verified"  # in the admin's language
    assert "Dear Admin Relai 1" in decoded(mail)
    [news] = wait_for(lambda: mail_to(inbox, officer.email), what="the officer's email")
    assert news["Subject"] == "Pendaftaran mitra baru: PT Relai 1 (fiktif)"
    settle()

    # Each event went out after its commit, at the first try, and notify stored it once.
    rows = outbox_rows(partners_db)
    assert sorted(r.event_type for r in rows) == ["organisation.registered",
                                                  "organisation.verified", "user.created",
                                                  "user.created"]
    assert all(r.published_at is not None and r.attempts == 0 for r in rows)
    events = {e.id: e for e in notify_events()}
    assert set(events) == {r.id for r in rows}
    assert {e.source for e in events.values()} == {"partners"}
    assert len(mail_to(inbox, admin["email"])) == 1 and len(mail_to(inbox, officer.email)) == 1


def test_events_made_while_notify_is_down_arrive_exactly_once_when_it_is_back(
        relay, sweepers, app, make, smtp_server):
    inbox, _ = smtp_server
    relay.stop()
    client = app.test_client()
    officer = make.user("dp3a_officer")
    officer_h = bearer(make.token(officer))
    first = register(client, "2", locale="en")
    second = register(client, "3", locale="id")
    decide(client, officer_h, first["organisation"]["id"], "verify")
    decide(client, officer_h, second["organisation"]["id"], "reject", "Dokumen NIB tidak sesuai")

    # The relay keeps trying the oldest event (after each commit, and on the beat), and
    # nothing overtakes it.
    def retried() -> list[Any] | None:
        rows = outbox_rows(partners_db)
        return rows if rows[0].attempts >= 2 else None

    rows = wait_for(retried, what="the sweeper retrying the oldest event")
    assert len(rows) == 7  # officer; 2 x (registered, user.created); verified; rejected
    assert "ServiceUnavailable" in rows[0].last_error
    assert all(r.published_at is None for r in rows)
    assert all(r.attempts == 0 for r in rows[1:])
    assert notify_events() == []

    relay.start()
    settle()
    events = notify_events()
    assert sorted(e.id for e in events) == sorted(r.id for r in rows)
    assert [e.id for e in events] == [r.id for r in rows]  # received in the order of the outbox

    wanted = {
        officer.email: ["Pendaftaran mitra baru: PT Relai 2 (fiktif)",
                        "Pendaftaran mitra baru: PT Relai 3 (fiktif)"],
        first["admin"]["email"]: ["PT Relai 2 (fiktif) is verified"],
        second["admin"]["email"]: ["Pendaftaran PT Relai 3 (fiktif) ditolak"],
    }
    for address, expected in wanted.items():
        assert subjects(mail_to(inbox, address)) == expected
    received = [m for address in wanted for m in mail_to(inbox, address)]
    assert max(Counter(m["Message-ID"] for m in received).values()) == 1
    sent = [n for n in notifications() if n.channel == "email"]
    assert sorted(f"<{n.id}@mitra.notify>" for n in sent) == sorted(
        m["Message-ID"] for m in received)


def test_a_repeated_event_changes_nothing(relay, app, make, smtp_server, notify_app):
    inbox, _ = smtp_server
    client = app.test_client()
    officer_h = bearer(make.token(make.user("dp3a_officer")))
    registered = register(client, "4", locale="id")
    decide(client, officer_h, registered["organisation"]["id"], "verify")
    wait_for(lambda: mail_to(inbox, registered["admin"]["email"]), what="the admin's email")
    settle()
    events_before = {e.id: (e.payload, e.processed_at) for e in notify_events()}
    notifications_before = {n.id: (n.status, n.attempts) for n in notifications()}
    mail_before = sorted(m["Message-ID"] for m in inbox.messages)
    assert len(events_before) == 4 and len(mail_before) == 2

    # A relay that crashed after posting and before recording: the sweeper sends it all again.
    with partners_db.engine.begin() as connection:
        connection.execute(sa.update(partners_db.OutboxEvent.__table__).values(published_at=None))
    app.extensions["celery"].send_task("partners.relay_outbox")  # as beat would
    settle()
    assert all(r.published_at is not None for r in outbox_rows(partners_db))

    # And the same event id posted again, even with another payload, is "already known".
    rows = outbox_rows(partners_db)
    verified = next(r for r in rows if r.event_type == "organisation.verified")
    again = {"id": str(verified.id), "type": verified.event_type, "source": "partners",
             "aggregate_type": verified.aggregate_type, "aggregate_id": verified.aggregate_id,
             "occurred_at": verified.occurred_at.isoformat(),
             "payload": {**verified.payload, "name": "PT Lain (fiktif)"}}
    service = {"Authorization": f"Bearer {app.extensions['outbox_poster'].http.token()}"}
    response = notify_app.test_client().post("/api/v1/events", json=again, headers=service)
    assert response.status_code == 200, response.json

    settle()
    assert {e.id: (e.payload, e.processed_at) for e in notify_events()} == events_before
    assert {n.id: (n.status, n.attempts) for n in notifications()} == notifications_before
    assert sorted(m["Message-ID"] for m in inbox.messages) == mail_before


def test_an_approval_in_matching_ends_as_an_email_in_the_partners_language_and_a_signed_webhook(
        relay, world, app, smtp_server, webhook_receiver, notify_app):
    inbox, _ = smtp_server
    partners = app.test_client()
    notify = notify_app.test_client()
    settle()  # the people of the world are in notify's directory

    # The partner's admin switches to English at partners (user.updated reaches notify),
    # and registers a webhook at notify for approvals.
    me = partners.get("/api/v1/users/me", headers=world.company_h)
    response = partners.patch("/api/v1/users/me", json={"locale": "en"},
                              headers={**world.company_h, "If-Match": me.headers["ETag"]})
    assert response.status_code == 200, response.json
    secret = "rahasia-webhook-uji-1234"
    response = notify.put("/api/v1/channels", json={
        "channel": "webhook", "address": webhook_receiver.url, "secret": secret},
        headers=world.company_h)
    assert response.status_code == 200, response.json
    response = notify.put("/api/v1/preferences", json={"preferences": [
        {"event_type": "proposal.approved", "channels": ["email", "webhook"]}]},
        headers=world.company_h)
    assert response.status_code == 200, response.json
    settle()

    world.offer(capacity=10)
    programme = world.programme()
    need = world.need(programme["id"])
    run = world.run(programme_id=programme["id"])
    assert run["status"] == "succeeded", run
    [proposal] = world.proposals(run_id=run["id"])
    response = world.client.post(f"/api/v1/proposals/{proposal['id']}/approve",
                                 headers=world.officer_h)
    assert response.status_code == 200, response.json

    admin_email = world.company_admin.email
    approved = "Match approved: Pelatih pemasaran digital"
    wait_for(lambda: [m for m in mail_to(inbox, admin_email) if m["Subject"] == approved],
             what="the partner's email")
    wait_for(lambda: webhook_receiver.calls, what="the webhook")
    settle()

    [mail] = [m for m in mail_to(inbox, admin_email) if m["Subject"] == approved]
    assert "4 sessions" in decoded(mail) and world.company.name in decoded(mail)
    [coordinator_mail] = [m for m in mail_to(inbox, world.coordinator.email)
                          if m["Subject"].startswith("Kecocokan disetujui")]
    assert coordinator_mail["Subject"] == "Kecocokan disetujui: Pelatih pemasaran digital"

    [call] = webhook_receiver.calls
    headers = {k.lower(): v for k, v in call["headers"].items()}
    timestamp = headers["x-mitra-timestamp"]
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + call["body"],
                        hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["x-mitra-signature"], f"sha256={expected}")
    body = json.loads(call["body"])
    [event] = [r for r in outbox_rows(matching_db) if r.event_type == "proposal.approved"]
    assert body["id"] == str(event.id) and body["type"] == "proposal.approved"
    assert body["payload"]["proposal_id"] == proposal["id"]
    assert body["payload"]["need_id"] == need["id"]
    assert {e.source for e in notify_events() if e.id == event.id} == {"matching"}


# --- the relay itself, on a database of its own ----------------------------------------------

@pytest.fixture
def scratch_outbox(make_database, tmp_path: Path, request) -> Iterator[sessionmaker]:
    """An outbox table alone (PostgreSQL or SQLite), which no worker and no trigger touches."""
    url = make_database(f"relay_{uuid.uuid4().hex[:8]}") if request.param == "postgresql" \
        else f"sqlite:///{tmp_path / 'relay.db'}"
    engine = create_engine(url)
    ServiceDatabase().OutboxEvent.__table__.create(engine)
    yield sessionmaker(engine, expire_on_commit=False)
    engine.dispose()


def add_rows(factory: sessionmaker, count: int) -> list[uuid.UUID]:
    """Events notify keeps but tells nobody of (an offer withdrawn), a millisecond apart."""
    table = ServiceDatabase().OutboxEvent.__table__
    start = utcnow()
    ids = [uuid.uuid4() for _ in range(count)]
    with factory() as session:
        session.execute(table.insert(), [
            {"id": row_id, "event_type": "offer.withdrawn", "aggregate_type": "offer",
             "aggregate_id": str(uuid.uuid4()), "payload": {"n": n}, "attempts": 0,
             "occurred_at": start + timedelta(milliseconds=n)} for n, row_id in enumerate(ids)])
        session.commit()
    return ids


def rows_of(factory: sessionmaker) -> list[Any]:
    table = ServiceDatabase().OutboxEvent.__table__
    with factory() as session:
        return list(session.execute(sa.select(table).order_by(table.c.occurred_at)))


@pytest.mark.parametrize("scratch_outbox", ["postgresql", "sqlite"], indirect=True)
def test_the_relay_sends_oldest_first_and_a_failure_stops_the_pass(scratch_outbox, relay, app):
    with app.app_context():
        poster = app.extensions["outbox_poster"]
    ids = add_rows(scratch_outbox, 3)
    relay.stop()
    assert relay_pending(scratch_outbox, poster, "partners") == {"published": 0, "failed": 1}
    rows = rows_of(scratch_outbox)
    assert [r.attempts for r in rows] == [1, 0, 0]  # the oldest failed; nothing overtook it
    assert "ServiceUnavailable" in rows[0].last_error
    assert all(r.published_at is None for r in rows)

    relay.start()
    assert relay_pending(scratch_outbox, poster, "partners", batch=2) == {"published": 3,
                                                                        "failed": 0}
    assert all(r.published_at is not None for r in rows_of(scratch_outbox))
    assert [e.id for e in notify_events()] == ids  # in order, across two batches
    assert relay_pending(scratch_outbox, poster, "partners") == {"published": 0, "failed": 0}


@pytest.mark.parametrize("scratch_outbox", ["postgresql"], indirect=True)
def test_a_relay_leaves_rows_another_relay_holds_and_never_overtakes_them(scratch_outbox,
                                                                          relay, app):
    with app.app_context():
        poster = app.extensions["outbox_poster"]
    ids = add_rows(scratch_outbox, 3)
    table = ServiceDatabase().OutboxEvent.__table__
    with scratch_outbox() as other:  # another relay, in the middle of sending the oldest
        other.execute(sa.select(table).where(table.c.id == ids[0]).with_for_update())
        assert relay_pending(scratch_outbox, poster, "partners") == {"published": 0,
                                                                    "failed": 0}
        other.rollback()
    assert notify_events() == []
    assert relay_pending(scratch_outbox, poster, "partners") == {"published": 3, "failed": 0}
    assert [e.id for e in notify_events()] == ids


@pytest.mark.parametrize("scratch_outbox", ["postgresql"], indirect=True)
def test_the_relay_is_queued_after_a_commit_that_emitted_never_before_nor_after_a_rollback(
        scratch_outbox, app):
    table = ServiceDatabase().OutboxEvent.__table__
    seen: list[int] = []  # outbox rows another connection sees when the relay is queued

    def enqueue() -> None:
        with scratch_outbox() as other:
            seen.append(other.scalar(sa.select(sa.func.count()).select_from(table)))

    trigger_after_commit(scratch_outbox, enqueue)
    with app.app_context(), scratch_outbox() as session:
        outbox.emit(session, "offer.withdrawn", "offer", uuid.uuid4(), {})
        session.rollback()
        session.commit()  # nothing emitted in this transaction
        assert seen == []
        outbox.emit(session, "offer.withdrawn", "offer", uuid.uuid4(), {})
        outbox.emit(session, "offer.withdrawn", "offer", uuid.uuid4(), {})
        session.flush()
        assert seen == []
        session.commit()
        assert seen == [2]  # once, after the commit, with both rows visible
        session.commit()
        assert seen == [2]


def test_the_notify_poster_refuses_what_notify_does_not_accept(relay, app):
    with app.app_context():
        token = app.extensions["outbox_poster"].http.token
    with pytest.raises(RelayError, match="notify answered 401"):
        NotifyPoster(NOTIFY_URL, lambda: None)([{"id": str(uuid.uuid4())}])
    with pytest.raises(RelayError, match="notify answered 422"):
        NotifyPoster(NOTIFY_URL, token)([])  # not a batch
    [result] = NotifyPoster(NOTIFY_URL, token)([{"id": "not-an-id"}])
    assert result["status"] == "refused" and "id" in result["errors"]


class CountingPoster:
    """The app's poster, counting the events of each request."""

    def __init__(self, poster: NotifyPoster) -> None:
        self.poster = poster
        self.sizes: list[int] = []

    def __call__(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        self.sizes.append(len(events))
        return self.poster(events)


@pytest.mark.parametrize("scratch_outbox", ["postgresql", "sqlite"], indirect=True)
def test_the_relay_posts_batches_within_the_row_and_size_limits(scratch_outbox, relay, app):
    with app.app_context():
        poster = CountingPoster(app.extensions["outbox_poster"])
    ids = add_rows(scratch_outbox, 450)
    assert relay_pending(scratch_outbox, poster, "partners") == {"published": 450, "failed": 0}
    assert poster.sizes == [200, 200, 50]
    assert [e.id for e in notify_events()] == ids  # once each, in order

    more = add_rows(scratch_outbox, 30)
    poster.sizes.clear()
    # Each body is about 250 bytes: 2 KB a request is 7 or 8 events.
    assert relay_pending(scratch_outbox, poster, "partners", max_bytes=2048) == {
        "published": 30, "failed": 0}
    assert sum(poster.sizes) == 30 and len(poster.sizes) == 4 and max(poster.sizes) <= 8
    assert [e.id for e in notify_events()] == ids + more


@pytest.mark.parametrize("scratch_outbox", ["postgresql"], indirect=True)
def test_a_row_notify_refuses_is_recorded_and_does_not_hold_back_the_others(scratch_outbox,
                                                                           relay, app):
    with app.app_context():
        poster = app.extensions["outbox_poster"]
    ids = add_rows(scratch_outbox, 5)
    table = ServiceDatabase().OutboxEvent.__table__
    with scratch_outbox() as session:  # a payload notify cannot take (a NUL)
        session.execute(sa.update(table).where(table.c.id == ids[1])
                        .values(payload={"name": "nol \u0000 di sini"}))
        session.commit()
    assert relay_pending(scratch_outbox, poster, "partners") == {"published": 4, "failed": 1}
    rows = {r.id: r for r in rows_of(scratch_outbox)}
    assert rows[ids[1]].published_at is None and rows[ids[1]].attempts == 1
    assert "refused" in rows[ids[1]].last_error and "payload" in rows[ids[1]].last_error
    assert all(rows[i].published_at is not None and rows[i].attempts == 0
               for i in ids if i != ids[1])
    assert [e.id for e in notify_events()] == [i for i in ids if i != ids[1]]
    # The next pass tries it again, and only it.
    assert relay_pending(scratch_outbox, poster, "partners") == {"published": 0, "failed": 1}
    assert rows_of(scratch_outbox)[1].attempts == 2


def test_a_burst_of_events_through_the_relay_is_delivered_exactly_once(relay, app, make,
                                                                      smtp_server):
    """250 organisations registered in one partners transaction (the after-commit trigger
    queues the relay, which posts them in batches): one email each to the officer."""
    inbox, _ = smtp_server
    officer = make.user("dp3a_officer")  # announced by user.created: notify learns of them
    settle()
    names = [f"PT Serbu {n:03d} (fiktif)" for n in range(250)]
    with app.app_context():
        session = partners_db.session_factory()
        try:
            for name in names:
                organisation_id = uuid.uuid4()
                outbox.emit(session, "organisation.registered", "organisation", organisation_id,
                            {"organisation_id": str(organisation_id), "name": name,
                             "kind": "company", "address_region": MUSTIKASARI})
            session.commit()
        finally:
            session.close()
    wait_for(lambda: len(mail_to(inbox, officer.email)) >= len(names), 60,
             what="every email of the burst")
    settle(60)
    received = mail_to(inbox, officer.email)
    assert sorted(m["Subject"] for m in received) == sorted(
        f"Pendaftaran mitra baru: {name}" for name in names)
    assert max(Counter(m["Message-ID"] for m in received).values()) == 1
    rows = outbox_rows(partners_db)
    assert all(r.published_at is not None and r.attempts == 0 for r in rows)
    assert sorted(e.id for e in notify_events()) == sorted(r.id for r in rows)
    emails = [n for n in notifications() if n.channel == "email"]
    assert len(emails) == len(names) and all(n.status == "sent" and n.attempts == 1
                                              for n in emails)
