"""POST /api/v1/events/batch: many events in one request, each answered on its own (created,
exists or refused), stored once by id, fanned out once, with the real worker and SMTP server."""
from __future__ import annotations

import uuid
from collections import Counter

import pytest
import sqlalchemy as sa

from services.notify.models import Event, Notification
from services.notify.models import db as notify_db
from services.notify.schemas import MAX_BATCH
from shared.errors import PROBLEM_MIME
from tests.notify.conftest import event, user_event, wait_for
from tests.notify.helpers import Notify, organisation_event
from tests.partners.conftest import MUSTIKASARI, bearer

BATCH = "/api/v1/events/batch"


@pytest.fixture(autouse=True)
def _clean(clean_notify, clean_partners, notify_worker):
    yield


def registered(name: str, **overrides: object) -> dict:
    """An organisation.registered event: one email and one in-app message per DP3A person."""
    return event("organisation.registered", {
        "organisation_id": str(uuid.uuid4()), "name": name, "kind": "company",
        "address_region": MUSTIKASARI}, **overrides)


def post(notify: Notify, events: list, expect: int = 200, headers: dict | None = None):
    response = notify.client.post(BATCH, json={"events": events},
                                  headers=headers or notify.service)
    assert response.status_code == expect, response.json
    return response


def statuses(response) -> list[str]:
    return [result["status"] for result in response.json["results"]]


def stored_events() -> list[Event]:
    with notify_db.session_factory() as session:
        return list(session.scalars(sa.select(Event).order_by(Event.received_at)))


def settled(notify: Notify, event_ids: list[str], per_event: int) -> list[dict]:
    """Every notification of these events, once all are fanned out and sent or failed."""
    return [n for event_id in event_ids
            for n in notify.settled(event_id, count=per_event)]


def test_a_valid_batch_is_stored_in_order_and_each_event_notified_once(notify, smtp_server):
    inbox, _ = smtp_server
    officer = notify.join("dp3a_officer")
    batch = [registered(f"PT Batch {n} (fiktif)") for n in range(5)]
    response = post(notify, batch)
    assert response.json["results"] == [{"id": e["id"], "status": "created"} for e in batch]

    found = settled(notify, [e["id"] for e in batch], per_event=2)  # email and in-app
    assert all(n["status"] == "sent" for n in found)
    events = [e for e in stored_events() if e.event_type == "organisation.registered"]
    assert [str(e.id) for e in events] == [e["id"] for e in batch]  # received in order
    subjects = Counter(m["Subject"] for m in inbox.to(officer.email))
    assert subjects == Counter({f"Pendaftaran mitra baru: PT Batch {n} (fiktif)": 1
                                for n in range(5)})


def test_repeats_within_and_between_batches_exist_and_change_nothing(notify, smtp_server):
    inbox, _ = smtp_server
    officer = notify.join("dp3a_officer")
    first, second = registered("PT Satu (fiktif)"), registered("PT Dua (fiktif)")
    response = post(notify, [first, first, second, {**first, "payload": {"name": "lain"}}])
    assert statuses(response) == ["created", "exists", "created", "exists"]
    settled(notify, [first["id"], second["id"]], per_event=2)
    before = {n.id: (n.status, n.attempts) for n in _notifications()}

    third = registered("PT Tiga (fiktif)")
    response = post(notify, [second, third, first])  # as a relay would after a crash
    assert statuses(response) == ["exists", "created", "exists"]
    settled(notify, [third["id"]], per_event=2)

    stored = [e for e in stored_events() if e.event_type == "organisation.registered"]
    assert [str(e.id) for e in stored] == [first["id"], second["id"], third["id"]]
    assert next(e for e in stored if str(e.id) == first["id"]).payload["name"] == "PT Satu (fiktif)"
    after = {n.id: (n.status, n.attempts) for n in _notifications()}
    assert {k: after[k] for k in before} == before and len(after) == len(before) + 2
    assert Counter(m["Message-ID"] for m in inbox.to(officer.email)).most_common(1)[0][1] == 1
    assert len(inbox.to(officer.email)) == 3


def _notifications() -> list[Notification]:
    with notify_db.session_factory() as session:
        return list(session.scalars(sa.select(Notification)))


def test_a_bad_item_is_refused_while_the_others_are_stored(notify):
    notify.join("dp3a_officer")
    good, also_good = registered("PT Baik (fiktif)"), registered("PT Juga Baik (fiktif)")
    no_type = {k: v for k, v in registered("PT Tanpa Jenis").items() if k != "type"}
    nul = registered("PT \u0000 Nol")
    naive = registered("PT Tanpa Zona", occurred_at="2026-11-29T10:00:00")
    items = [good, {**good, "id": "bukan-id"}, no_type, "bukan objek", None, nul, naive,
             {**also_good, "extra": 1}, also_good]
    response = post(notify, items)
    results = response.json["results"]
    assert statuses(response) == ["created"] + ["refused"] * 7 + ["created"]
    assert list(results[1]["errors"]) == ["id"] and results[1]["id"] is None
    assert list(results[2]["errors"]) == ["type"] and results[2]["id"] == no_type["id"]
    assert results[3]["id"] is None and results[4]["id"] is None
    assert list(results[5]["errors"]) == ["payload"]
    assert list(results[6]["errors"]) == ["occurred_at"]
    assert list(results[7]["errors"]) == ["extra"]
    settled(notify, [good["id"], also_good["id"]], per_event=2)
    assert {str(e.id) for e in stored_events()
            if e.event_type == "organisation.registered"} == {good["id"], also_good["id"]}


@pytest.mark.parametrize("body", [
    {"events": [registered(f"PT {n}") for n in range(MAX_BATCH + 1)]},
    {"events": []},
    {},
    {"events": [registered("PT Lebih")], "more": True},
    {"events": registered("PT Bukan Daftar")},
])
def test_a_batch_that_is_not_one_is_refused_whole(notify, body):
    response = notify.client.post(BATCH, json=body, headers=notify.service)
    assert response.status_code == 422, response.json
    assert response.content_type == PROBLEM_MIME
    assert stored_events() == []


def test_a_batch_of_the_largest_size_is_taken(notify):
    batch = [event("offer.withdrawn", {"n": n}) for n in range(MAX_BATCH)]
    response = post(notify, batch)
    assert statuses(response) == ["created"] * MAX_BATCH
    wait_for(lambda: all(e.processed_at for e in stored_events()), what="the fan-out")
    assert len(stored_events()) == MAX_BATCH


def test_only_services_may_post_a_batch(notify, make):
    body = [registered("PT Tamu (fiktif)")]
    officer = make.user("dp3a_admin")
    post(notify, body, expect=403, headers=bearer(make.token(officer)))
    response = notify.client.post(BATCH, json={"events": body})
    assert response.status_code == 401
    assert stored_events() == []


def test_the_openapi_documents_the_batch(notify):
    spec = notify.client.get("/api/v1/openapi.json").json
    operation = spec["paths"][BATCH]["post"]
    assert set(operation["responses"]) >= {"200", "422"}
    schemas = spec["components"]["schemas"]
    events = schemas["EventBatchIn"]["properties"]["events"]
    assert (events["minItems"], events["maxItems"]) == (1, MAX_BATCH)
    assert {"$ref": "#/components/schemas/EventIn"} in events["items"]["anyOf"]
    assert schemas["EventResult"]["properties"]["status"]["enum"] == ["created", "exists",
                                                                      "refused"]


def test_a_person_announced_earlier_in_the_batch_hears_of_a_later_event(notify, smtp_server):
    inbox, _ = smtp_server
    organisation = str(uuid.uuid4())
    joined = user_event(str(uuid.uuid4()), organisation, "admin.baru@contoh.example",
                        "partner_admin", locale="en")
    verified = event(*organisation_event(organisation))
    post(notify, [joined, verified])
    [email] = [n for n in settled(notify, [verified["id"]], per_event=2)
               if n["channel"] == "email"]
    assert email["status"] == "sent"
    [mail] = inbox.to("admin.baru@contoh.example")
    assert mail["Subject"] == "PT Maju Bersama (fiktif) is verified"


def test_an_event_that_cannot_be_fanned_out_does_not_hold_back_the_others(notify):
    officer = notify.join("dp3a_officer")
    broken = event("user.created", {"name": "tanpa user_id"})  # stored; its fan-out fails
    good = registered("PT Tetap Jalan (fiktif)")
    assert statuses(post(notify, [broken, good])) == ["created", "created"]
    found = settled(notify, [good["id"]], per_event=2)
    assert {n["recipient_id"] for n in found} == {officer.id}
    assert not notify.processed(broken["id"])
