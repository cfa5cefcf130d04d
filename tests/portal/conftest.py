"""The portal against the whole system, once for all portal tests: partners, matching and
notify on real threaded HTTP servers (in this process), their Celery workers in threads
(matching's runs, partners' and matching's outbox relays, notify's deliveries), real
PostgreSQL, Redis and an SMTP server. The portal itself is driven through Flask's test
client (it calls the APIs over HTTP) and, for the browser tests, served on a live server."""
from __future__ import annotations

import html
import os
import re
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from axe_playwright_python.sync_playwright import Axe
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import Browser, Page, sync_playwright
from werkzeug.serving import make_server

from services.matching.models import db as matching_db
from services.notify.models import Recipient
from services.notify.models import db as notify_db
from services.partners.models import db as partners_db
from services.portal import create_app as create_portal_app
from tests.conftest import NOTIFY_URL, NotifyServer, consume_outbox
from tests.notify.conftest import wait_for  # noqa: F401 - the portal tests' too
from tests.partners.conftest import PASSWORD, Factory, bearer

DEAD_URL = "http://127.0.0.1:9"  # the discard port: nothing answers there


class LiveServer:
    """A WSGI app on a real threaded HTTP server in a thread of this process."""

    def __init__(self, app: Flask, port: int = 0) -> None:
        self.server = make_server("127.0.0.1", port, app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def portal_config(partners_url: str, matching_url: str, notify_url: str) -> dict[str, Any]:
    return {"PARTNERS_URL": partners_url, "MATCHING_URL": matching_url,
            "NOTIFY_URL": notify_url, "SECRET_KEY": "portal-test-secret-key",
            "SESSION_COOKIE_SECURE": False, "ACCESS_LOG": False, "API_TIMEOUT_S": 5}


@dataclass
class System:
    partners: Flask
    matching: Flask
    notify: Flask
    portal: Flask
    make: Factory
    matching_url: str
    smtp: Any


def _empty(database: Any, keep: tuple[str, ...]) -> None:
    with database.engine.begin() as connection:
        for table in reversed(database.metadata.sorted_tables):
            if table.name not in keep:
                connection.execute(table.delete())


@pytest.fixture(scope="package")
def system(app: Flask, live_server: str, matching_app: Flask, celery_worker: Any,
           notify_app: Flask, notify_worker: Any, partners_worker: Any,
           smtp_server: Any, seeded_topics: list[str]) -> Iterator[System]:
    """Everything up, outboxes relayed to notify for the whole package; emptied after."""
    for database in (partners_db, matching_db):
        with database.engine.begin() as connection:
            connection.execute(database.OutboxEvent.__table__.delete())
    workers = ((app, partners_worker), (matching_app, celery_worker))
    for service, worker in workers:
        consume_outbox(service, worker, on=True)
    notify_server = NotifyServer(notify_app)
    notify_server.start()
    matching_server = LiveServer(matching_app)
    portal = create_portal_app(portal_config(live_server, matching_server.url, NOTIFY_URL))
    yield System(partners=app, matching=matching_app, notify=notify_app, portal=portal,
                 make=Factory(app), matching_url=matching_server.url, smtp=smtp_server[0])
    for service, worker in workers:
        consume_outbox(service, worker, on=False)
    notify_server.stop()
    matching_server.stop()
    _empty(notify_db, ("alembic_version", "templates"))
    _empty(matching_db, ("alembic_version",))
    _empty(partners_db, ("alembic_version", "topics"))
    smtp_server[0].clear()


# --- people --------------------------------------------------------------------------------

@dataclass
class Person:
    id: str
    email: str
    role: str
    organisation_id: str
    name: str
    headers: dict[str, str]  # the person's bearer token, to check what the APIs hold


def in_directory(user_id: str) -> bool:
    """Whether notify has learnt of the person (partners' user.created, relayed)."""
    with notify_db.session_factory() as session:
        return session.get(Recipient, uuid.UUID(user_id)) is not None


class People:
    def __init__(self, system: System) -> None:
        self.make = system.make

    def _person(self, user: Any) -> Person:
        wait_for(lambda: in_directory(str(user.id)), what="the person in notify's directory")
        return Person(id=str(user.id), email=user.email, role=user.role,
                      organisation_id=str(user.organisation_id), name=user.name,
                      headers=bearer(self.make.token(user)))

    def partner_admin(self, kind: str = "company", status: str = "verified") -> Person:
        _, user = self.make.organisation(kind=kind, status=status)
        return self._person(user)

    def member_of(self, organisation_id: str, role: str = "partner_member") -> Person:
        with self.make.app.app_context():
            from services.partners.models import Organisation

            organisation = partners_db.session.get(Organisation, uuid.UUID(organisation_id))
            return self._person(self.make.user(role, organisation))

    def staff(self, role: str) -> Person:
        return self._person(self.make.user(role))


@pytest.fixture(scope="package")
def people(system: System) -> People:
    return People(system)


# --- the portal as a browser would use it ----------------------------------------------------

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|'
                  r'name="csrf_token" value="([^"]+)"')


def page_text(body: str) -> str:
    """What a person reads: the page without tags, whitespace collapsed."""
    body = re.sub(r"(?s)<(script|style|head)\b.*?</\1>", " ", body)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body))).strip()


class FormParser(HTMLParser):
    """The forms of a page with the values a browser would send as they stand."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[dict[str, Any]] = []
        self._textarea: str | None = None
        self._select: str | None = None

    @classmethod
    def forms(cls, body: str) -> list[dict[str, Any]]:
        parser = cls()
        parser.feed(body)
        return parser.found

    def _add(self, name: str, value: str, multiple: bool = False) -> None:
        fields = self.found[-1]["fields"]
        if multiple:
            fields.setdefault(name, []).append(value)
        else:
            fields[name] = value

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            self.found.append({"action": a.get("action", ""), "fields": {}})
        elif not self.found or "name" not in a:
            return
        elif tag == "input":
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self._add(a["name"], a.get("value", "on"), multiple=kind == "checkbox")
            elif kind not in ("submit", "button"):
                self._add(a["name"], a.get("value", ""))
        elif tag == "textarea":
            self._textarea = a["name"]
            self._add(a["name"], "")
        elif tag == "select":
            self._select = a["name"]
        elif tag == "option" and self._select and "selected" in a:
            self._add(self._select, a.get("value", ""))

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.found[-1]["fields"][self._textarea] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None


class Portal:
    """Flask's test client with a person's habits: read a page, fill its form, send it."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.last: Any = None

    def get(self, path: str, **kwargs: Any) -> Any:
        self.last = self.client.get(path, **kwargs)
        return self.last

    def csrf_token(self, path: str) -> str:
        body = self.get(path).get_data(as_text=True)
        match = CSRF.search(body)
        assert match, f"no CSRF token on {path}"
        return match.group(1) or match.group(2)

    def submit(self, page: str, data: dict[str, Any], action: str | None = None,
               follow: bool = True) -> Any:
        """Open `page`, fill its form as a browser would (what the page already holds:
        values, checked boxes, selected options, hidden fields, the CSRF token), change the
        fields in `data`, and POST it to `action` (by default the page's form)."""
        body = self.get(page).get_data(as_text=True)
        target = action or page
        forms = FormParser.forms(body)
        chosen = next((f for f in forms if f["action"] == target.split("?")[0]), None)
        if chosen is None:
            chosen = next(f for f in reversed(forms) if f["action"] != "/keluar")
        form = dict(chosen["fields"])
        form.update(data)
        self.last = self.client.post(target, data=form, follow_redirects=follow)
        return self.last

    def sign_in(self, person: Person, password: str = PASSWORD) -> Any:
        response = self.submit("/masuk", {"email": person.email, "password": password})
        assert response.status_code == 200, page_text(response.get_data(as_text=True))
        return response


def text(response: Any) -> str:
    return page_text(response.get_data(as_text=True))


@pytest.fixture
def portal(system: System) -> Portal:
    """A fresh browser (no cookies) on the portal."""
    return Portal(system.portal.test_client())


@pytest.fixture(scope="package")
def dead_portal() -> Flask:
    """The portal with no service answering behind it."""
    return create_portal_app(portal_config(DEAD_URL, DEAD_URL, DEAD_URL))


@pytest.fixture(scope="package")
def portal_server(system: System) -> Iterator[str]:
    server = LiveServer(system.portal)
    yield server.url
    server.stop()


def partners_db_rows(statement: sa.Select) -> list[Any]:
    with partners_db.session_factory() as session:
        return list(session.scalars(statement))


@pytest.fixture(scope="package")
def half_portal(system: System) -> Flask:
    """The portal with partners answering but matching and notify not."""
    return create_portal_app(portal_config(system.portal.config["PARTNERS_URL"], DEAD_URL,
                                           DEAD_URL))


def api_json(app: Flask, method: str, path: str, headers: dict[str, str],
             expect: int = 200, **kwargs: Any) -> Any:
    """Ask a service directly (in process) what it holds, as `headers`' person."""
    response = app.test_client().open(path, method=method, headers=headers, **kwargs)
    assert response.status_code == expect, response.get_data(as_text=True)
    return response.json


# --- the browser: Debian's Chromium driven by Playwright ---------------------------------------

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
PHONE = {"width": 390, "height": 844}  # most users are on a phone


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        # Debian's Chromium, never a browser Playwright would download; no sandbox as root.
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture(scope="package")
def axe() -> Axe:
    return Axe()


def look(page: Page, axe: Axe, language: str, name: str) -> None:
    """Save the page as tests/artifacts/<language>-<name>.png and check its accessibility."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{language}-{name}.png"), full_page=True)
    results = axe.run(page)
    serious = [(v["id"], v["impact"], [node["target"] for node in v["nodes"]][:3])
               for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert serious == [], f"{name} ({language}): {serious}"


