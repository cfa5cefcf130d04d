"""Preferences and channel addresses: what a person may store, what is refused (422, with
nothing changed), that reading gives back what was written, and that each write is audited."""
from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from services.notify.catalogue import BY_TYPE
from services.notify.models import ChannelAddress
from services.notify.models import db as notify_db
from shared.errors import PROBLEM_MIME
from tests.notify.helpers import Notify, Person
from tests.partners.conftest import bearer

SECRET = "rahasia-yang-panjang-sekali"


@pytest.fixture(autouse=True)
def _clean(clean_notify, clean_partners, notify_worker):
    yield


@pytest.fixture
def person(notify) -> Person:
    return notify.join("partner_admin", locale="id")


def get(notify: Notify, person: Person, path: str = "/api/v1/preferences"):
    response = notify.client.get(path, headers=person.headers)
    assert response.status_code == 200, response.json
    return response.json


def put(notify: Notify, person: Person, body, path: str = "/api/v1/preferences"):
    return notify.client.put(path, json=body, headers=person.headers)


def audit(notify_app, action: str) -> list:
    with notify_app.app_context():
        return list(notify_db.session.scalars(sa.select(notify_db.AuditEntry).where(
            notify_db.AuditEntry.action == action).order_by(notify_db.AuditEntry.occurred_at)))


# --- preferences -------------------------------------------------------------------------------

def test_a_new_person_has_their_language_and_no_preferences_yet(notify, person):
    assert get(notify, person) == {"locale": "id", "preferences": []}


def test_get_returns_what_put_stored(notify, person):
    stored = {"locale": "en", "preferences": [
        {"event_type": "*", "channels": ["inapp"], "muted": False},
        {"event_type": "offer.expiring", "channels": ["email", "inapp"], "muted": False},
        {"event_type": "organisation.suspended", "channels": [], "muted": True},
    ]}
    response = put(notify, person, stored)
    assert response.status_code == 200, response.json
    assert response.json == stored
    assert get(notify, person) == stored
    # `muted` may be left out (not muted); the list is sorted by event type.
    response = put(notify, person, {"preferences": [
        {"event_type": "proposal.approved", "channels": ["webhook", "email"]},
        {"event_type": "delivery.confirmed", "channels": []}]})
    assert response.status_code == 200, response.json
    assert get(notify, person) == {"locale": "en", "preferences": [
        {"event_type": "delivery.confirmed", "channels": [], "muted": False},
        {"event_type": "proposal.approved", "channels": ["webhook", "email"], "muted": False}]}


def test_a_put_replaces_the_list_and_keeps_what_it_leaves_out(notify, person):
    assert put(notify, person, {"preferences": [
        {"event_type": "*", "channels": ["email"]}]}).status_code == 200
    assert put(notify, person, {"locale": "en"}).status_code == 200  # the list stays
    assert get(notify, person)["preferences"] == [
        {"event_type": "*", "channels": ["email"], "muted": False}]
    assert put(notify, person, {"preferences": []}).status_code == 200  # the list goes
    assert get(notify, person) == {"locale": "en", "preferences": []}


BAD_PREFERENCES = [
    ({"preferences": [{"event_type": "no.such.event", "channels": ["email"]}]},
     "preferences.0.event_type"),
    ({"preferences": [{"event_type": "user.created", "channels": ["email"]}]},
     "preferences.0.event_type"),
    ({"preferences": [{"event_type": "offer.expiring", "channels": ["fax"]}]},
     "preferences.0.channels.0"),
    ({"preferences": [{"event_type": "offer.expiring", "channels": ["email", "email"]}]},
     "preferences.0.channels"),
    ({"preferences": [{"event_type": "offer.expiring", "channels": ["email"]},
                      {"event_type": "offer.expiring", "channels": ["inapp"]}]},
     "preferences"),
    ({"preferences": [{"event_type": "*", "channels": ["email"]},
                      {"event_type": "*", "channels": [], "muted": True}]}, "preferences"),
    ({"preferences": [{"event_type": "offer.expiring"}]}, "preferences.0.channels"),
    ({"preferences": [{"channels": ["email"]}]}, "preferences.0.event_type"),
    ({"preferences": [{"event_type": "offer.expiring", "channels": "email"}]},
     "preferences.0.channels"),
    ({"preferences": [{"event_type": "offer.expiring", "channels": [], "loud": True}]},
     "preferences.0.loud"),
    ({"locale": "fr"}, "locale"),
    ({"locale": "ID"}, "locale"),
    ({"locale": None}, "locale"),
    ({"timezone": "Asia/Jakarta"}, "timezone"),
    ({"preferences": "email"}, "preferences"),
    ({"preferences": [{"event_type": t, "channels": []} for t in list(BY_TYPE) * 4]},
     "preferences"),
]


@pytest.mark.parametrize("body, field", BAD_PREFERENCES,
                         ids=[f"{i}:{field}" for i, (_, field) in enumerate(BAD_PREFERENCES)])
def test_bad_preferences_are_refused_and_change_nothing(notify, person, notify_app, body,
                                                        field):
    stored = {"locale": "en", "preferences": [
        {"event_type": "offer.expiring", "channels": ["inapp"], "muted": False}]}
    assert put(notify, person, stored).status_code == 200
    before = len(audit(notify_app, "preferences.updated"))
    response = put(notify, person, body)
    assert response.status_code == 422, response.json
    assert response.content_type == PROBLEM_MIME
    assert field in response.json["errors"], response.json
    assert get(notify, person) == stored
    assert len(audit(notify_app, "preferences.updated")) == before


def test_preference_writes_are_audited_with_before_and_after(notify, person, notify_app):
    assert put(notify, person, {"locale": "en"}).status_code == 200
    assert put(notify, person, {"preferences": [
        {"event_type": "offer.expiring", "channels": [], "muted": True}]}).status_code == 200
    entries = audit(notify_app, "preferences.updated")
    assert [(e.actor_id, e.actor_role, e.object_type, e.object_id) for e in entries] == [
        (person.id, "partner_admin", "recipient", person.id)] * 2
    assert entries[0].before == {"locale": "id", "preferences": []}
    assert entries[0].after == {"locale": "en", "preferences": []}
    assert entries[1].before == entries[0].after
    assert entries[1].after == {"locale": "en", "preferences": [
        {"event_type": "offer.expiring", "channels": [], "muted": True}]}
    assert all(e.request_id for e in entries)


def test_someone_not_yet_in_the_directory_is_told_so(notify, make):
    stranger = bearer(make.token(make.user("partner_member")))
    for method in ("get", "put"):
        for path, body in (("/api/v1/preferences", {"locale": "en"}),
                           ("/api/v1/channels", {"channel": "webhook",
                                                 "address": "https://contoh.example/hook",
                                                 "secret": SECRET})):
            response = notify.client.open(path, method=method.upper(), headers=stranger,
                                          json=body if method == "put" else None)
            assert response.status_code == 404, response.json
            assert response.json["type"].endswith("/not-in-directory")


def test_a_directory_update_from_partners_changes_the_language(notify, person):
    notify.send("user.updated", {
        "user_id": person.id, "organisation_id": person.organisation_id,
        "email": person.email, "name": "Nama Baru", "role": "partner_admin",
        "region_codes": [], "locale": "en", "is_active": True})
    assert get(notify, person)["locale"] == "en"
    assert notify.recipient(person.id).name == "Nama Baru"


# --- channel addresses -----------------------------------------------------------------------------

def test_a_webhook_and_an_apprise_url_are_stored_and_the_secret_never_shown(notify, person,
                                                                           notify_app):
    webhook = put(notify, person, {"channel": "webhook", "address": "https://mitra.example/hook",
                                   "secret": SECRET}, "/api/v1/channels")
    assert webhook.status_code == 200, webhook.json
    assert webhook.json["channel"] == "webhook"
    assert webhook.json["address"] == "https://mitra.example/hook"
    assert "secret" not in webhook.json
    apprise = put(notify, person, {"channel": "apprise", "address": "tgram://123456:ABCDEF/987"},
                  "/api/v1/channels")
    assert apprise.status_code == 200, apprise.json
    listed = get(notify, person, "/api/v1/channels")
    assert sorted((c["channel"], c["address"]) for c in listed) == [
        ("apprise", "tgram://123456:ABCDEF/987"), ("webhook", "https://mitra.example/hook")]
    assert all("secret" not in c for c in listed)

    # Setting it again replaces it (one address per channel), with its new secret.
    again = put(notify, person, {"channel": "webhook", "address": "https://mitra.example/v2",
                                 "secret": SECRET + "-baru"}, "/api/v1/channels")
    assert again.status_code == 200 and again.json["id"] == webhook.json["id"]
    with notify_app.app_context():
        rows = list(notify_db.session.scalars(sa.select(ChannelAddress).where(
            ChannelAddress.recipient_id == uuid.UUID(person.id))))
    assert {(r.channel, r.address, r.secret) for r in rows} == {
        ("webhook", "https://mitra.example/v2", SECRET + "-baru"),
        ("apprise", "tgram://123456:ABCDEF/987", None)}

    entries = audit(notify_app, "channel.set")
    assert [e.after for e in entries] == [{"channel": "webhook"}, {"channel": "apprise"},
                                          {"channel": "webhook"}]
    assert {e.actor_id for e in entries} == {person.id}
    assert all(SECRET not in str(e.before) + str(e.after) for e in entries)


BAD_CHANNELS = [
    ({"channel": "webhook", "address": "https://mitra.example/hook"}, "secret"),
    ({"channel": "webhook", "address": "https://mitra.example/hook", "secret": ""}, "secret"),
    ({"channel": "webhook", "address": "https://mitra.example/hook", "secret": "pendek"},
     "secret"),
    ({"channel": "webhook", "address": "ftp://mitra.example/hook", "secret": SECRET},
     "address"),
    ({"channel": "webhook", "address": "file:///etc/passwd", "secret": SECRET}, "address"),
    ({"channel": "webhook", "address": "javascript:alert(1)", "secret": SECRET}, "address"),
    ({"channel": "webhook", "address": "mitra.example/hook", "secret": SECRET}, "address"),
    ({"channel": "webhook", "address": "http://", "secret": SECRET}, "address"),
    ({"channel": "webhook", "address": "https:///hook", "secret": SECRET}, "address"),
    ({"channel": "webhook", "address": "http://[::1/hook", "secret": SECRET}, "address"),
    ({"channel": "webhook", "address": "http://mitra.example:99999/", "secret": SECRET},
     "address"),
    ({"channel": "apprise", "address": "nosuchscheme://token@host"}, "address"),
    ({"channel": "apprise", "address": "bukan sebuah url"}, "address"),
    ({"channel": "email", "address": "saya@contoh.example"}, "channel"),
    ({"channel": "inapp", "address": "anything"}, "channel"),
    ({"address": "https://mitra.example/hook", "secret": SECRET}, "channel"),
    ({"channel": "webhook", "secret": SECRET}, "address"),
    ({"channel": "webhook", "address": "https://mitra.example/hook", "secret": SECRET,
      "id": str(uuid.uuid4())}, "id"),
]


@pytest.mark.parametrize("body, field", BAD_CHANNELS,
                         ids=[f"{i}:{field}" for i, (_, field) in enumerate(BAD_CHANNELS)])
def test_bad_channel_addresses_are_refused_and_change_nothing(notify, person, notify_app, body,
                                                             field):
    response = put(notify, person, body, "/api/v1/channels")
    assert response.status_code == 422, response.json
    assert response.content_type == PROBLEM_MIME
    assert field in response.json["errors"], response.json
    assert get(notify, person, "/api/v1/channels") == []
    assert audit(notify_app, "channel.set") == []
