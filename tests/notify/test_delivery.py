"""Delivery end to end, against real servers: aiosmtpd for email, local HTTP servers for
webhooks and Apprise, Redis and a real Celery worker, PostgreSQL.

Each test posts events as partners or matching would, waits for the worker, and reads what
arrived at the other end and what notify recorded (through its API)."""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from celery import Celery
from sqlalchemy.orm import Session

from services.notify import MIGRATIONS, catalogue
from services.notify.channels import PermanentFailure, SmtpSender, check_target
from services.notify.models import DeliveryAttempt, Event, Notification
from services.notify.models import db as notify_db
from services.notify.operations import delivery, events
from shared.celery import key_prefix
from shared.config import PROJECT_ROOT
from shared.db import create_engine
from shared.migrations import upgrade
from tests.conftest import REDIS_URL, RUN_ID
from tests.notify.conftest import decoded, event, free_port, user_event, wait_for
from tests.notify.helpers import (
    by_channel,
    organisation_event,
    proposal,
    set_channel,
    set_preferences,
)
from tests.partners.conftest import MUSTIKASARI


@pytest.fixture(autouse=True)
def _clean(clean_notify, clean_partners, notify_worker):
    """Every test here runs with the worker, and leaves both databases empty."""
    yield


@pytest.fixture
def mail(smtp_server):
    return smtp_server[0]


def parts(message: Message) -> tuple[str, str]:
    """(plain text, HTML) of a multipart/alternative email; fails when either is missing."""
    assert message.get_content_type() == "multipart/alternative"
    found = {part.get_content_type(): part.get_payload(decode=True).decode(
        part.get_content_charset() or "utf-8") for part in message.walk()
        if not part.is_multipart()}
    assert set(found) == {"text/plain", "text/html"}
    return found["text/plain"], found["text/html"]


class Recorder:
    """A real HTTP server that records each request and answers from a script of statuses
    (then 200): for webhooks that fail before they succeed, and for Apprise's json://."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.requests: list[dict[str, Any]] = []
        self.statuses = list(statuses or [])
        self.lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with recorder.lock:
                    recorder.requests.append({"path": self.path, "body": body,
                                              "headers": dict(self.headers)})
                    status = recorder.statuses.pop(0) if recorder.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder():
    servers: list[Recorder] = []

    def start(statuses: list[int] | None = None) -> Recorder:
        servers.append(Recorder(statuses))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


# --- email: language, money, dates -----------------------------------------------------------

def test_an_approval_reaches_each_person_in_their_language_as_text_and_html(notify, mail):
    admin = notify.join("partner_admin", locale="en", name="Ani")
    coordinator = notify.join("coordinator", locale="id", name="Budi")
    body = notify.send("proposal.approved", proposal(
        admin.organisation_id, organisation_name="PT Maju & <Jaya> (fiktif)",
        quantity=20_000_000, unit="rupiah"))
    settled = notify.settled(body["id"], count=4)
    assert {n["status"] for n in settled} == {"sent"}
    assert {(n["recipient_id"], n["channel"], n["locale"]) for n in settled} == {
        (admin.id, "email", "en"), (admin.id, "inapp", "en"),
        (coordinator.id, "email", "id"), (coordinator.id, "inapp", "id")}

    [english] = mail.to(admin.email)
    assert english["Subject"] == "Match approved: Insentif fasilitator"
    assert english["Content-Language"] == "en"
    text, html = parts(english)
    assert 'DP3A approved help from PT Maju & <Jaya> (fiktif) ("Dana insentif fasilitator")' \
        in text
    assert ': Rp 20.000.000.' in text
    assert "Rp 20.000.000" in html
    assert "http://portal.test" in text
    # Values are escaped in the HTML part: a partner's name is not markup.
    assert "PT Maju &amp; &lt;Jaya&gt; (fiktif)" in html and "<Jaya>" not in html

    [indonesian] = mail.to(coordinator.email)
    assert indonesian["Subject"] == "Kecocokan disetujui: Insentif fasilitator"
    assert indonesian["Content-Language"] == "id"
    text, html = parts(indonesian)
    assert 'DP3A menyetujui bantuan PT Maju & <Jaya> (fiktif)' in text
    assert "Rp 20.000.000" in text and "Rp 20.000.000" in html
    assert "Mitra diminta menerima" in text
    # The in-app copy carries the same words.
    inapp = by_channel([n for n in settled if n["recipient_id"] == coordinator.id])["inapp"]
    assert inapp["subject"] == indonesian["Subject"] and "Rp 20.000.000" in inapp["body_text"]


def test_quantities_other_than_money_show_with_their_unit(notify, mail):
    admin = notify.join("partner_admin", locale="en")
    body = notify.send("proposal.approved", proposal(admin.organisation_id, quantity=12,
                                                     unit="sessions"))
    notify.settled(body["id"], count=2)
    [message] = mail.to(admin.email)
    assert ": 12 sessions." in decoded(message)
    assert "Rp" not in decoded(message)


def test_an_expiring_offer_shows_its_date_in_each_language(notify, mail):
    english = notify.join("partner_admin", locale="en")
    indonesian = notify.join("partner_admin", locale="id", organisation_id=english.organisation_id)
    body = notify.send("offer.expiring", {
        "offer_id": str(uuid.uuid4()), "organisation_id": english.organisation_id,
        "title": "Pelatih pemasaran digital", "kind": "trainer", "status": "active",
        "remaining": 4, "unit": "sessions", "available_to": "2027-08-17"})
    notify.settled(body["id"], count=4)
    [message] = mail.to(english.email)
    assert message["Subject"] == "Offer ending soon: Pelatih pemasaran digital"
    assert "ends on 17 August 2027 with 4 left" in decoded(message)
    [message] = mail.to(indonesian.email)
    assert message["Subject"] == "Penawaran segera berakhir: Pelatih pemasaran digital"
    assert "berakhir pada 17 Agustus 2027; sisa kapasitas 4" in decoded(message)


def test_times_are_shown_in_jakarta_time(notify, mail):
    """20:30 UTC on 6 December is 03:30 WIB on the 7th."""
    bodies = {}
    for locale in ("id", "en"):
        bodies[locale] = notify.send("user.invited", {
            "invitation_id": str(uuid.uuid4()), "organisation_id": str(uuid.uuid4()),
            "organisation_name": "PT Maju Bersama (fiktif)", "email": f"undangan-{locale}@uji.example",
            "name": "Rekan", "role": "partner_member", "locale": locale, "token": "tkn",
            "expires_at": "2026-12-06T20:30:00+00:00"})
    for locale in ("id", "en"):
        notify.settled(bodies[locale]["id"], count=2)
    [message] = mail.to("undangan-id@uji.example")
    assert "sebelum 7 Desember 2026, 03.30 WIB." in decoded(message)
    assert "http://portal.test/undangan/tkn" in decoded(message)
    [message] = mail.to("undangan-en@uji.example")
    assert "before 7 December 2026, 03:30 WIB." in decoded(message)


def test_a_person_who_changes_their_language_gets_the_next_message_in_it(notify, mail):
    admin = notify.join("partner_admin", locale="id")
    response = notify.client.put("/api/v1/preferences", json={"locale": "en"},
                                 headers=admin.headers)
    assert response.status_code == 200 and response.json["locale"] == "en"
    body = notify.send(*organisation_event(admin.organisation_id))
    notify.settled(body["id"], count=2)
    [message] = mail.to(admin.email)
    assert message["Subject"] == "PT Maju Bersama (fiktif) is verified"


def test_a_line_break_in_a_name_cannot_add_mail_headers(notify, mail):
    officer = notify.join("dp3a_officer")
    body = notify.send("organisation.registered", {
        "organisation_id": str(uuid.uuid4()), "name": "PT Jahil\r\nBcc: korban@luar.example",
        "kind": "company", "address_region": MUSTIKASARI})
    email = by_channel(notify.settled(body["id"], count=2))["email"]
    assert email["status"] == "sent", email
    [message] = mail.to(officer.email)
    assert message["Bcc"] is None
    assert message["Subject"] == "Pendaftaran mitra baru: PT Jahil Bcc: korban@luar.example"
    assert mail.to("korban@luar.example") == []


# --- email: temporary and permanent failures ---------------------------------------------------

def test_a_temporary_smtp_failure_is_retried_and_then_delivered(notify, mail):
    admin = notify.join("partner_admin")
    mail.fail_next = [(451, "4.3.0 try later")]
    body = notify.send(*organisation_event(admin.organisation_id))
    email = by_channel(notify.settled(body["id"], count=2))["email"]
    assert email["status"] == "sent" and email["attempts"] == 2
    detail = notify.detail(email["id"])
    assert [a["outcome"] for a in detail["delivery_attempts"]] == ["temporary_failure", "sent"]
    assert [a["number"] for a in detail["delivery_attempts"]] == [1, 2]
    assert "451" in detail["delivery_attempts"][0]["detail"]
    assert all(a["finished_at"] for a in detail["delivery_attempts"])
    assert detail["sent_at"] is not None and detail["last_error"] is None
    [message] = mail.to(admin.email)
    assert message["Message-ID"] == f"<{email['id']}@mitra.notify>"


def test_a_permanent_smtp_failure_is_not_retried(notify, mail):
    admin = notify.join("partner_admin")
    mail.fail_next = [(550, "5.1.1 no such mailbox")]
    body = notify.send(*organisation_event(admin.organisation_id))
    settled = by_channel(notify.settled(body["id"], count=2))
    email = settled["email"]
    assert email["status"] == "failed" and email["attempts"] == 1
    assert "550" in email["last_error"]
    detail = notify.detail(email["id"])
    assert [a["outcome"] for a in detail["delivery_attempts"]] == ["permanent_failure"]
    assert mail.to(admin.email) == []
    assert settled["inapp"]["status"] == "sent"  # the other channel is not affected


def test_temporary_failures_stop_at_the_configured_limit(notify, mail, notify_app):
    admin = notify.join("partner_admin")
    limit = notify_app.config["DELIVERY_MAX_ATTEMPTS"]
    mail.fail_next = [(421, "4.7.0 busy")] * limit
    body = notify.send(*organisation_event(admin.organisation_id))
    email = by_channel(notify.settled(body["id"], count=2))["email"]
    assert email["status"] == "failed" and email["attempts"] == limit == 3
    outcomes = [a["outcome"] for a in notify.detail(email["id"])["delivery_attempts"]]
    assert outcomes == ["temporary_failure"] * limit
    assert mail.to(admin.email) == [] and mail.fail_next == []


# --- webhooks ----------------------------------------------------------------------------------

def test_a_webhook_carries_the_event_signed_with_the_registered_secret(notify,
                                                                       webhook_receiver):
    admin = notify.join("partner_admin")
    secret = "rahasia-" + uuid.uuid4().hex
    set_channel(notify, admin, channel="webhook", address=webhook_receiver.url, secret=secret)
    set_preferences(notify, admin, [{"event_type": "*", "channels": ["webhook"]}])
    event_type, payload = organisation_event(admin.organisation_id, "organisation.suspended")
    body = notify.send(event_type, payload)
    [webhook] = notify.settled(body["id"], count=1)
    assert webhook["channel"] == "webhook" and webhook["status"] == "sent"
    assert webhook["template_version"] is None

    [call] = webhook_receiver.calls
    assert call["path"] == "/hook"
    headers = call["headers"]
    timestamp = headers["X-Mitra-Timestamp"]
    assert timestamp.isdigit()
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + call["body"],
                        hashlib.sha256).hexdigest()
    assert headers["X-Mitra-Signature"] == f"sha256={expected}"
    forged = hmac.new(b"another secret", timestamp.encode() + b"." + call["body"],
                      hashlib.sha256).hexdigest()
    assert headers["X-Mitra-Signature"] != f"sha256={forged}"
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Mitra-Event"] == "organisation.suspended"
    assert headers["X-Mitra-Delivery"] == webhook["id"]
    sent = json.loads(call["body"])
    assert set(sent) == {"id", "type", "occurred_at", "payload"}
    assert sent["id"] == body["id"] and sent["type"] == "organisation.suspended"
    assert sent["payload"] == payload
    assert datetime.fromisoformat(sent["occurred_at"]) == datetime.fromisoformat(
        body["occurred_at"])


def test_a_webhook_answering_500_is_retried_until_it_succeeds(notify, recorder):
    server = recorder([500, 503])
    admin = notify.join("partner_admin")
    set_channel(notify, admin, channel="webhook", address=f"http://127.0.0.1:{server.port}/in",
                secret="rahasia-" + uuid.uuid4().hex)
    set_preferences(notify, admin, [{"event_type": "*", "channels": ["webhook"]}])
    body = notify.send(*organisation_event(admin.organisation_id))
    [webhook] = notify.settled(body["id"], count=1)
    assert webhook["status"] == "sent" and webhook["attempts"] == 3
    outcomes = [a["outcome"] for a in notify.detail(webhook["id"])["delivery_attempts"]]
    assert outcomes == ["temporary_failure", "temporary_failure", "sent"]
    assert len(server.requests) == 3
    # Every attempt carries the same event, and the same delivery id.
    assert len({r["body"] for r in server.requests}) == 1
    assert {r["headers"]["X-Mitra-Delivery"] for r in server.requests} == {webhook["id"]}


def test_a_webhook_that_keeps_answering_500_fails_after_the_limit(notify, webhook_receiver):
    webhook_receiver.status = 500
    admin = notify.join("partner_admin")
    set_channel(notify, admin, channel="webhook", address=webhook_receiver.url,
                secret="rahasia-" + uuid.uuid4().hex)
    set_preferences(notify, admin, [{"event_type": "*", "channels": ["webhook"]}])
    body = notify.send(*organisation_event(admin.organisation_id))
    [webhook] = notify.settled(body["id"], count=1)
    assert webhook["status"] == "failed" and webhook["attempts"] == 3
    assert "500" in webhook["last_error"]
    assert len(webhook_receiver.calls) == 3


def test_a_webhook_answering_410_is_not_retried(notify, webhook_receiver):
    webhook_receiver.status = 410
    admin = notify.join("partner_admin")
    set_channel(notify, admin, channel="webhook", address=webhook_receiver.url,
                secret="rahasia-" + uuid.uuid4().hex)
    set_preferences(notify, admin, [{"event_type": "*", "channels": ["webhook"]}])
    body = notify.send(*organisation_event(admin.organisation_id))
    [webhook] = notify.settled(body["id"], count=1)
    assert webhook["status"] == "failed" and webhook["attempts"] == 1
    outcomes = [a["outcome"] for a in notify.detail(webhook["id"])["delivery_attempts"]]
    assert outcomes == ["permanent_failure"]
    assert len(webhook_receiver.calls) == 1


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8080/hook", "http://localhost/hook", "http://[::1]/hook",
    "http://10.1.2.3/hook", "http://172.16.0.9/hook", "http://192.168.1.10/hook",
    "http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/hook",
    "http://[fd00::5]/hook", "http://0.0.0.0/hook", "http://2130706433/hook",
    "http://0x7f000001/hook", "http://[::ffff:127.0.0.1]/hook", "http://100.64.0.1/hook",
])
def test_private_loopback_and_link_local_targets_are_refused(url):
    with pytest.raises(PermanentFailure, match="non-public"):
        check_target(url, allow_private=False)
    check_target(url, allow_private=True)  # ...unless configured


@pytest.mark.parametrize("url", ["ftp://93.184.215.14/x", "file:///etc/passwd", "http:///x",
                                 "gopher://127.0.0.1/", "http://[::1/x",
                                 "http://93.184.215.14:99999/x"])
def test_only_http_urls_are_webhook_targets(url):
    for allow_private in (False, True):
        with pytest.raises(PermanentFailure, match="not an http"):
            check_target(url, allow_private)


def test_a_public_address_is_a_valid_target():
    check_target("https://93.184.215.14/hook", allow_private=False)
    check_target("http://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]:8443/x", allow_private=False)


def test_a_webhook_to_a_private_address_fails_for_good_when_not_allowed(notify, notify_app,
                                                                        webhook_receiver):
    """The delivery operation the worker runs, with WEBHOOK_ALLOW_PRIVATE off (the test app
    allows private targets so that the other tests can reach their local servers)."""
    admin = notify.join("partner_admin")
    set_channel(notify, admin, channel="webhook", address=webhook_receiver.url,
                secret="rahasia-" + uuid.uuid4().hex)
    set_preferences(notify, admin, [{"event_type": "*", "channels": ["webhook"]}])
    event_type, payload = organisation_event(admin.organisation_id)
    data = event(event_type, payload)
    with notify_app.app_context():
        # What POST /api/v1/events and the fan-out task do, without queueing the delivery.
        stored, created = events.store(notify_db.session, {
            **data, "id": uuid.UUID(data["id"]),
            "occurred_at": datetime.fromisoformat(data["occurred_at"])})
        assert created
        [notification_id] = events.fan_out(notify_db.session, stored.id, "http://portal.test")
        notify_db.session.commit()
    config = {**notify_app.config, "WEBHOOK_ALLOW_PRIVATE": False}
    smtp = SmtpSender(config)
    assert delivery.deliver(notify_db.session_factory, notification_id, smtp, config) \
        == delivery.FAILED
    # Delivering it again does nothing: it failed for good.
    assert delivery.deliver(notify_db.session_factory, notification_id, smtp, config) \
        == delivery.SKIPPED
    detail = notify.detail(str(notification_id))
    assert detail["status"] == "failed" and detail["attempts"] == 1
    [attempt] = detail["delivery_attempts"]
    assert attempt["outcome"] == "permanent_failure"
    assert "non-public address" in attempt["detail"]
    assert webhook_receiver.calls == []


# --- Apprise -----------------------------------------------------------------------------------

def test_a_message_reaches_an_apprise_url(notify, recorder):
    server = recorder()
    admin = notify.join("partner_admin", locale="en")
    set_channel(notify, admin, channel="apprise",
                address=f"json://127.0.0.1:{server.port}/apprise/in")
    set_preferences(notify, admin, [{"event_type": "organisation.verified",
                                     "channels": ["apprise"]}])
    body = notify.send(*organisation_event(admin.organisation_id))
    [sent] = notify.settled(body["id"], count=1)
    assert sent["channel"] == "apprise" and sent["status"] == "sent"
    assert sent["template_version"] == 1
    [request] = server.requests
    assert request["path"] == "/apprise/in"
    message = json.loads(request["body"])
    assert message["title"] == "PT Maju Bersama (fiktif) is verified"
    assert message["message"].startswith("Dear Ibu Uji,")
    assert "has been verified by DP3A" in message["message"]


def test_an_apprise_service_that_refuses_is_retried(notify, recorder):
    server = recorder([500])
    admin = notify.join("partner_admin")
    set_channel(notify, admin, channel="apprise", address=f"json://127.0.0.1:{server.port}/x")
    set_preferences(notify, admin, [{"event_type": "*", "channels": ["apprise"]}])
    body = notify.send(*organisation_event(admin.organisation_id))
    [sent] = notify.settled(body["id"], count=1)
    assert sent["status"] == "sent" and sent["attempts"] == 2
    assert len(server.requests) == 2


# --- the in-app inbox --------------------------------------------------------------------------

def test_the_inbox_lists_counts_and_marks_read_only_ones_own_messages(notify):
    reader = notify.join("partner_admin")
    other = notify.join("partner_admin")
    first = notify.send(*organisation_event(reader.organisation_id))
    notify.settled(first["id"], count=2)
    second = notify.send(*organisation_event(reader.organisation_id, "organisation.suspended"))
    notify.settled(second["id"], count=2)
    theirs = notify.send(*organisation_event(other.organisation_id))
    notify.settled(theirs["id"], count=2)
    client = notify.client

    inbox = client.get("/api/v1/inbox", headers=reader.headers)
    assert inbox.status_code == 200
    assert [m["event_id"] for m in inbox.json] == [second["id"], first["id"]]  # newest first
    assert {m["channel"] for m in inbox.json} == {"inapp"}
    assert {m["recipient_id"] for m in inbox.json} == {reader.id}
    assert all(m["read_at"] is None for m in inbox.json)
    assert json.loads(inbox.headers["X-Pagination"])["total"] == 2
    count = client.get("/api/v1/inbox/unread-count", headers=reader.headers)
    assert count.status_code == 200 and count.json == {"unread": 2}

    older = inbox.json[1]["id"]
    marked = client.post(f"/api/v1/inbox/{older}/read", headers=reader.headers)
    assert marked.status_code == 200 and marked.json["read_at"] is not None
    again = client.post(f"/api/v1/inbox/{older}/read", headers=reader.headers)
    assert again.status_code == 200 and again.json["read_at"] == marked.json["read_at"]
    assert client.get("/api/v1/inbox/unread-count", headers=reader.headers).json == {
        "unread": 1}
    unread = client.get("/api/v1/inbox?unread=true", headers=reader.headers).json
    assert [m["event_id"] for m in unread] == [second["id"]]

    # Someone else can neither see nor touch it.
    newer = inbox.json[0]["id"]
    response = client.post(f"/api/v1/inbox/{newer}/read", headers=other.headers)
    assert response.status_code == 404
    assert response.content_type == "application/problem+json"
    assert client.get(f"/api/v1/notifications/{newer}", headers=other.headers).status_code \
        == 404
    assert [m["event_id"] for m in client.get("/api/v1/inbox", headers=other.headers).json] \
        == [theirs["id"]]
    assert client.get("/api/v1/inbox/unread-count", headers=reader.headers).json == {
        "unread": 1}
    # ...while its recipient reads it, with its delivery attempts.
    own = client.get(f"/api/v1/notifications/{newer}", headers=reader.headers)
    assert own.status_code == 200 and own.json["status"] == "sent"
    # An email notification is not an inbox message, even one's own.
    email = by_channel(notify.notifications(first["id"]))["email"]
    assert client.post(f"/api/v1/inbox/{email['id']}/read",
                       headers=reader.headers).status_code == 404


# --- preferences decide what is made ---------------------------------------------------------

def test_a_muted_event_type_makes_no_notification(notify, mail):
    admin = notify.join("partner_admin")
    set_preferences(notify, admin, [{"event_type": "organisation.suspended", "channels": [],
                                     "muted": True}])
    muted = notify.send(*organisation_event(admin.organisation_id, "organisation.suspended"))
    heard = notify.send(*organisation_event(admin.organisation_id, "organisation.verified"))
    assert notify.settled(muted["id"]) == []
    assert {n["channel"] for n in notify.settled(heard["id"], count=2)} == {"email", "inapp"}
    [message] = mail.to(admin.email)
    assert message["Subject"] == "PT Maju Bersama (fiktif) sudah terverifikasi"


def test_muting_everything_silences_every_type(notify, mail):
    admin = notify.join("partner_admin")
    set_preferences(notify, admin, [{"event_type": "*", "channels": ["email"], "muted": True}])
    body = notify.send(*organisation_event(admin.organisation_id))
    assert notify.settled(body["id"]) == []
    assert mail.to(admin.email) == []


def test_choosing_only_inapp_sends_no_email(notify, mail):
    admin = notify.join("partner_admin")
    set_preferences(notify, admin, [{"event_type": "organisation.verified",
                                     "channels": ["inapp"]}])
    body = notify.send(*organisation_event(admin.organisation_id))
    [only] = notify.settled(body["id"], count=1)
    assert only["channel"] == "inapp" and only["status"] == "sent"
    # Another type still follows the default (email and in-app).
    other = notify.send(*organisation_event(admin.organisation_id, "organisation.suspended"))
    assert {n["channel"] for n in notify.settled(other["id"], count=2)} == {"email", "inapp"}
    assert [m["Subject"] for m in mail.to(admin.email)] == [
        "PT Maju Bersama (fiktif) ditangguhkan"]


def test_a_webhook_chosen_but_never_registered_is_not_used(notify):
    admin = notify.join("partner_admin")
    set_preferences(notify, admin, [{"event_type": "*", "channels": ["webhook", "inapp"]}])
    body = notify.send(*organisation_event(admin.organisation_id))
    [only] = notify.settled(body["id"], count=1)
    assert only["channel"] == "inapp"


# --- once and only once ------------------------------------------------------------------------

def test_a_duplicate_event_changes_nothing(notify, mail):
    admin = notify.join("partner_admin")
    event_type, payload = organisation_event(admin.organisation_id)
    body = event(event_type, payload)
    first = notify.post(body, expect=202)
    assert first.json["id"] == body["id"]
    notify.settled(body["id"], count=2)
    changed = {**body, "payload": {**payload, "name": "PT Lain (fiktif)"}}
    for again in (body, changed):
        response = notify.post(again, expect=200)
        assert response.json["processed_at"] is not None
    settled = notify.settled(body["id"], count=2)
    assert {n["status"] for n in settled} == {"sent"}
    [message] = mail.to(admin.email)
    assert message["Subject"] == "PT Maju Bersama (fiktif) sudah terverifikasi"
    assert notify.count(recipient_id=uuid.UUID(admin.id)) == 2


def test_the_same_event_posted_at_once_from_many_places_is_stored_once(notify, mail,
                                                                      notify_app):
    admin = notify.join("partner_admin")
    body = event(*organisation_event(admin.organisation_id))
    barrier = threading.Barrier(8)
    statuses: list[int] = []

    def post() -> None:
        client = notify_app.test_client()
        barrier.wait()
        statuses.append(client.post("/api/v1/events", json=body,
                                    headers=notify.service).status_code)

    threads = [threading.Thread(target=post) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200] * 7 + [202]
    notify.settled(body["id"], count=2)
    assert len(mail.to(admin.email)) == 1


def test_an_event_stored_but_never_fanned_out_is_fanned_out_when_it_comes_again(notify, mail,
                                                                             notify_app):
    """The event was committed but queueing its fan-out failed (Redis away for a moment):
    the sender saw an error and posts it again; that repeat must not be a dead end."""
    admin = notify.join("partner_admin")
    data = event(*organisation_event(admin.organisation_id))
    with notify_app.app_context():
        events.store(notify_db.session, {**data, "id": uuid.UUID(data["id"]),
                                         "occurred_at": datetime.fromisoformat(
                                             data["occurred_at"])})
        notify_db.session.commit()
    response = notify.post(data, expect=200)
    assert response.json["id"] == data["id"]
    notify.settled(data["id"], count=2)
    assert len(mail.to(admin.email)) == 1


def test_an_event_nobody_hears_of_is_still_marked_processed(notify, notify_app):
    body = notify.send("match_run.finished", {**catalogue.BY_TYPE["match_run.finished"].sample,
                                              "requested_by": str(uuid.uuid4())})
    assert notify.settled(body["id"]) == []
    with notify_app.app_context():
        stored = notify_db.session.get(Event, uuid.UUID(body["id"]))
        assert stored.source == "test" and stored.event_type == "match_run.finished"
        assert notify_db.session.query(Notification).count() == 0


# --- a worker killed mid-delivery ----------------------------------------------------------------

class HoldingInbox:
    """An SMTP server that takes the first message in full and then holds its reply, so that
    the sender is stuck between sending and recording; later messages are answered at once."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.received = threading.Event()
        self.release = threading.Event()
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append(message_from_bytes(envelope.content))
            first = len(self.messages) == 1
        if first:
            self.received.set()
            while not self.release.is_set():
                await asyncio.sleep(0.02)
        return "250 Message accepted for delivery"


class WorkerProcess:
    """`celery worker` for notify in its own process, on its own Redis keys and database."""

    def __init__(self, env: dict[str, str], log_path) -> None:
        self.log_path = log_path
        self.log = open(log_path, "ab")  # noqa: SIM115 (open while the process runs)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "services.notify.worker:celery", "worker",
             "-Q", "notify,periodic", "-c", "1", "-P", "solo", "--loglevel", "INFO",
             "--without-heartbeat", "--without-gossip", "--without-mingle",
             "-n", f"crash-{uuid.uuid4().hex[:6]}@%h"],
            cwd=PROJECT_ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self) -> None:
        wait_for(lambda: self.process.poll() is not None or b" ready." in
                 self.log_path.read_bytes(), 60, "the worker process to start")
        assert self.process.poll() is None, self.log_path.read_text()

    def kill(self) -> None:
        self.process.kill()  # SIGKILL: no shutdown, no acknowledgement, nothing recorded
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()


@pytest.fixture
def crash_world(make_database, redis_client, live_server, tmp_path):
    """A second notify deployment for the crash test: its own database, Redis keys and SMTP
    server, so that the session's in-process worker never takes its tasks (nor it theirs)."""
    url = make_database("notify_crash")
    upgrade(MIGRATIONS, url)
    inbox = HoldingInbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    prefix = f"mitra-test-{RUN_ID}-crash:"
    env = {name: value for name, value in os.environ.items()
           if name not in ("CELERY_BROKER_URL", "SMTP_USER", "SMTP_PASSWORD")}
    env.update({"NOTIFY_DATABASE_URL": url, "PARTNERS_URL": live_server, "REDIS_URL": REDIS_URL,
                "CELERY_KEY_PREFIX": prefix, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port),
                "SMTP_STARTTLS": "0", "DELIVERY_STUCK_AFTER_S": "1", "DELIVERY_BACKOFF_S": "0",
                "PORTAL_URL": "http://portal.test", "ACCESS_LOG": "0", "LOG_LEVEL": "INFO"})
    # How the workers' Celery names its keys on Redis, for the sending side here.
    sender = Celery("crash-test-sender", broker=REDIS_URL, set_as_current=False)
    sender.conf.broker_transport_options = {
        "visibility_timeout": 3600,
        "global_keyprefix": key_prefix({"CELERY_KEY_PREFIX": prefix, "SERVICE_NAME": "notify"})}
    sender.conf.task_serializer = "json"
    engine = create_engine(url)
    workers: list[WorkerProcess] = []

    def worker(**settings: str) -> WorkerProcess:
        workers.append(WorkerProcess({**env, **settings},
                                     tmp_path / f"worker-{len(workers) + 1}.log"))
        return workers[-1]

    yield SimpleNamespace(engine=engine, inbox=inbox, sender=sender, worker=worker)
    for process in workers:
        process.stop()
    inbox.release.set()
    controller.stop()
    sender.close()
    engine.dispose()
    for key in redis_client.scan_iter(f"{prefix}*"):
        redis_client.delete(key)


class Killed(SimpleNamespace):
    """What is left after a worker was killed between sending an email and recording it."""

    def row(self, channel: str = "email") -> Notification:
        with Session(self.world.engine) as session:
            return session.scalar(sa.select(Notification).where(
                Notification.event_id == uuid.UUID(self.event["id"]),
                Notification.channel == channel))

    def attempts(self) -> list[tuple[int, str | None, bool]]:
        """(number, outcome, finished) of the email's attempts."""
        with Session(self.world.engine) as session:
            return [(a.number, a.outcome, a.finished_at is not None) for a in session.scalars(
                sa.select(DeliveryAttempt).where(DeliveryAttempt.notification_id
                                                 == self.row().id)
                .order_by(DeliveryAttempt.number))]

    def sweep_until(self, done: Callable[[], bool]) -> None:
        """Send the sweeper (as beat would, every few seconds) until `done`."""

        def swept() -> bool:
            self.world.sender.send_task("notify.sweep_stuck", queue="periodic")
            return done()

        wait_for(lambda: swept() or time.sleep(0.5), 60, "the sweeper to do its job")


def kill_mid_delivery(world) -> Killed:
    """A person, an event for them, a worker that sends its email and is killed (SIGKILL)
    while the SMTP server, which has the whole message, holds back its answer."""
    person, organisation = str(uuid.uuid4()), str(uuid.uuid4())
    joined = user_event(person, organisation, "tahan@uji.example", "partner_admin", locale="en")
    verified = event(*organisation_event(organisation))
    with Session(world.engine) as session:
        # The person is in the directory; the event is stored as POST /api/v1/events stores
        # it, and its fan-out goes to the queue.
        for data in (joined, verified):
            events.store(session, {**data, "id": uuid.UUID(data["id"]),
                                   "occurred_at": datetime.fromisoformat(data["occurred_at"])})
        events.fan_out(session, uuid.UUID(joined["id"]), "http://portal.test")
        session.commit()

    first = world.worker()
    first.wait_ready()
    world.sender.send_task("notify.fan_out", args=[verified["id"]], queue="notify")
    assert world.inbox.received.wait(30), first.log_path.read_text()
    killed = Killed(world=world, event=verified)
    # The server has the whole message; the worker has not heard back, so nothing is recorded.
    held = killed.row()
    assert held.status == "sending" and held.attempts == 1 and held.sent_at is None
    first.kill()
    assert first.process.returncode == -signal.SIGKILL
    world.inbox.release.set()
    assert killed.row().status == "sending"
    assert killed.attempts() == [(1, None, False)]
    return killed


def test_a_worker_killed_mid_delivery_the_message_still_arrives_with_the_same_message_id(
        crash_world):
    world = crash_world
    killed = kill_mid_delivery(world)
    second = world.worker()
    second.wait_ready()
    killed.sweep_until(lambda: killed.row().status == "sent"
                       and killed.row("inapp").status == "sent")
    sent = killed.row()
    assert sent.attempts == 2
    # The killed attempt never finished; the repeat did.
    assert killed.attempts() == [(1, None, False), (2, "sent", True)]
    wait_for(lambda: len(world.inbox.messages) == 2, 10, "the repeat at the SMTP server")
    original, repeat = world.inbox.messages
    assert original["Message-ID"] == repeat["Message-ID"] == f"<{sent.id}@mitra.notify>"
    assert original["Subject"] == repeat["Subject"] == "PT Maju Bersama (fiktif) is verified"
    assert decoded(original) == decoded(repeat)


def test_a_notification_whose_every_attempt_was_lost_is_given_up(crash_world):
    """With the limit at one attempt, the lost one is all there is: the sweeper's next round
    marks it failed instead of sending it again, and again, for ever."""
    world = crash_world
    killed = kill_mid_delivery(world)
    second = world.worker(DELIVERY_MAX_ATTEMPTS="1")
    second.wait_ready()
    killed.sweep_until(lambda: killed.row().status == "failed")
    failed = killed.row()
    assert failed.attempts == 1 and failed.sent_at is None
    assert failed.last_error == "gave up after 1 attempts that never finished"
    assert killed.attempts() == [(1, None, False)]
    assert len(world.inbox.messages) == 1  # only the one the killed worker sent
