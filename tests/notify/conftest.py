"""The notify service on its own PostgreSQL database, with a real Celery worker on Redis, a
real SMTP server (aiosmtpd) and a real HTTP server for webhooks."""
from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from services.notify.models import db as notify_db
from tests.conftest import REDIS_URL, RUN_ID


class SmtpInbox:
    """An aiosmtpd handler that keeps every message; `fail_next` answers with an SMTP code."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.fail_next: list[tuple[int, str]] = []
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        with self.lock:
            if self.fail_next:
                code, text = self.fail_next.pop(0)
                return f"{code} {text}"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        with self.lock:
            self.messages.append(message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[Message]:
        with self.lock:
            return [m for m in self.messages if m["To"] == address]

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()
            self.fail_next.clear()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class WebhookReceiver:
    """A real HTTP server that records webhook calls (and can be told to fail)."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.status = 204
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.calls.append({"headers": dict(self.headers), "body": body,
                                       "path": self.path})
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="session")
def webhook_receiver() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


def notify_config(partners_url: str, database_url: str, smtp_port: int) -> dict[str, Any]:
    return {
        "DATABASE_URL": database_url, "PARTNERS_URL": partners_url, "REDIS_URL": REDIS_URL,
        "CELERY_KEY_PREFIX": f"mitra-test-{RUN_ID}:", "ACCESS_LOG": False, "TESTING": True,
        "SMTP_HOST": "127.0.0.1", "SMTP_PORT": smtp_port, "WEBHOOK_ALLOW_PRIVATE": True,
        "DELIVERY_BACKOFF_S": 0, "DELIVERY_MAX_ATTEMPTS": 3, "DELIVERY_STUCK_AFTER_S": 2,
        "PORTAL_URL": "http://portal.test",
    }


@pytest.fixture
def clean_notify(notify_app: Flask, smtp_server, webhook_receiver) -> Iterator[None]:
    yield
    with notify_db.engine.begin() as connection:
        for table in reversed(notify_db.metadata.sorted_tables):
            if table.name not in ("alembic_version", "templates"):
                connection.execute(table.delete())
        connection.execute(sa.text("DELETE FROM templates WHERE version > 1"))
    smtp_server[0].clear()
    webhook_receiver.calls.clear()
    webhook_receiver.status = 204


@pytest.fixture
def notify(notify_app: Flask, make: Any) -> Any:
    """The helper of tests/notify/helpers.py on this run's notify app and partners factory."""
    from tests.notify.helpers import Notify  # it imports this module: imported when used

    return Notify(notify_app, make)


def event(event_type: str, payload: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    body = {"id": str(uuid.uuid4()), "type": event_type, "source": "test",
            "aggregate_type": event_type.split(".")[0], "aggregate_id": str(uuid.uuid4()),
            "occurred_at": datetime.now(timezone.utc).isoformat(), "payload": payload}
    body.update(overrides)
    return body


def user_event(user_id: str, organisation_id: str, email: str, role: str, locale: str = "id",
               regions: list[str] | None = None, name: str = "Ibu Uji") -> dict[str, Any]:
    return event("user.created", {
        "user_id": user_id, "organisation_id": organisation_id, "email": email, "name": name,
        "role": role, "region_codes": regions or [], "locale": locale, "is_active": True})


def wait_for(condition, seconds: float = 20.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def decoded(message: Message) -> str:
    """The plain-text part of an email."""
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            return part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
    return ""


__all__ = ["decoded", "event", "json", "notify_config", "user_event", "wait_for"]
