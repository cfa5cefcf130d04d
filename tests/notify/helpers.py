"""Helpers the notify tests share: people who exist in partners *and* in notify's directory
(through the user.created events partners would send), and ways to wait for what the real
Celery worker does."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import Flask

from services.notify import catalogue
from services.notify.models import Event, Notification, Recipient
from services.notify.models import db as notify_db
from tests.notify.conftest import event, user_event, wait_for
from tests.partners.conftest import MUSTIKASARI, Factory, bearer

SETTLED = ("sent", "failed")


@dataclass
class Person:
    id: str
    email: str
    role: str
    organisation_id: str
    locale: str
    headers: dict[str, str]  # a bearer token of the partners user


class Notify:
    """Drives the notify app as partners and matching would: events in as a service."""

    def __init__(self, app: Flask, make: Factory) -> None:
        self.app = app
        self.make = make
        self.client = app.test_client()
        self.service = bearer(make.service_token())

    # --- events ------------------------------------------------------------------------------

    def post(self, body: dict[str, Any], expect: int | None = 202) -> Any:
        response = self.client.post("/api/v1/events", json=body, headers=self.service)
        if expect is not None:
            assert response.status_code == expect, response.json
        return response

    def send(self, event_type: str, payload: dict[str, Any], **overrides: Any) -> dict[str, Any]:
        """Post an event and wait until the worker has fanned it out."""
        body = event(event_type, payload, **overrides)
        self.post(body)
        wait_for(lambda: self.processed(body["id"]), what=f"{event_type} fanned out")
        return body

    def processed(self, event_id: str) -> bool:
        with self.app.app_context():
            found = notify_db.session.get(Event, uuid.UUID(event_id))
            return found is not None and found.processed_at is not None

    # --- people --------------------------------------------------------------------------------

    def join(self, role: str, locale: str = "id", organisation_id: str | None = None,
             regions: list[str] | None = None, name: str = "Ibu Uji") -> Person:
        """A partners user of `role`, and their user.created event, fanned out."""
        make = self.make
        if role == "partner_admin" and organisation_id is None:
            organisation, user = make.organisation()
        else:
            organisation = None
            if organisation_id is not None:
                from services.partners.models import Organisation
                from services.partners.models import db as partners_db

                with make.app.app_context():
                    organisation = partners_db.session.get(Organisation,
                                                           uuid.UUID(organisation_id))
            if role == "coordinator" and regions is None:
                regions = [MUSTIKASARI]
            user = make.user(role, organisation, region_codes=regions, locale=locale)
        person = Person(id=str(user.id), email=user.email, role=role,
                        organisation_id=str(user.organisation_id), locale=locale,
                        headers=bearer(make.token(user)))
        body = user_event(person.id, person.organisation_id, person.email, role, locale=locale,
                          regions=list(user.region_codes), name=name)
        self.post(body)
        wait_for(lambda: self.recipient(person.id), what="the person in notify's directory")
        return person

    def recipient(self, person_id: str) -> Recipient | None:
        with self.app.app_context():
            return notify_db.session.get(Recipient, uuid.UUID(person_id))

    # --- notifications -------------------------------------------------------------------------

    def notifications(self, event_id: str) -> list[dict[str, Any]]:
        response = self.client.get(f"/api/v1/notifications?event_id={event_id}&page_size=100",
                                   headers=self.service)
        assert response.status_code == 200, response.json
        return response.json

    def settled(self, event_id: str, count: int | None = None,
                seconds: float = 20) -> list[dict[str, Any]]:
        """The event's notifications once it is fanned out and each is sent or failed."""

        def done() -> tuple[list[dict[str, Any]]] | None:
            if not self.processed(event_id):
                return None
            found = self.notifications(event_id)
            if count is not None and len(found) != count:
                return None
            return (found,) if all(n["status"] in SETTLED for n in found) else None

        [found] = wait_for(done, seconds, what="the notifications settled")
        return found

    def detail(self, notification_id: str) -> dict[str, Any]:
        response = self.client.get(f"/api/v1/notifications/{notification_id}",
                                   headers=self.service)
        assert response.status_code == 200, response.json
        return response.json

    def count(self, **filters: Any) -> int:
        with self.app.app_context():
            statement = sa.select(sa.func.count()).select_from(Notification)
            for name, value in filters.items():
                statement = statement.where(getattr(Notification, name) == value)
            return notify_db.session.scalar(statement)


def by_channel(notifications: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    mapping = {n["channel"]: n for n in notifications}
    assert len(mapping) == len(notifications), "two notifications on one channel"
    return mapping


def organisation_event(organisation_id: str, event_type: str = "organisation.verified",
                       name: str = "PT Maju Bersama (fiktif)") -> tuple[str, dict[str, Any]]:
    """(type, payload) of an organisation's verification, rejection or suspension."""
    status = event_type.split(".")[1]
    return event_type, {"organisation_id": organisation_id, "name": name, "status": status,
                        "reason": None if status == "verified" else "Laporan belum lengkap"}


def proposal(organisation_id: str, **overrides: Any) -> dict[str, Any]:
    """A proposal event's payload for an organisation, its need in Mustikasari."""
    return {**catalogue.PROPOSAL, "organisation_id": organisation_id,
            "need_region": MUSTIKASARI, **overrides}


def set_channel(notify: Notify, person: Person, **body: Any) -> None:
    response = notify.client.put("/api/v1/channels", json=body, headers=person.headers)
    assert response.status_code == 200, response.json


def set_preferences(notify: Notify, person: Person, preferences: list[dict[str, Any]]) -> None:
    response = notify.client.put("/api/v1/preferences", json={"preferences": preferences},
                                 headers=person.headers)
    assert response.status_code == 200, response.json
