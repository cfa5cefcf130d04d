"""The partners app on a migrated PostgreSQL database, a live server, and factories."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from services.partners.models import Organisation, User, db
from services.partners.operations import accounts, offers, organisations
from services.partners.security import hash_password
from shared import outbox
from shared.audit import Actor
from shared.clock import today_wib
from tests.conftest import KEEP_TABLES, REDIS_URL, RUN_ID, SERVICE_SECRET  # noqa: F401

PASSWORD = "correct horse battery"
MUSTIKASARI = "32.75.11.1004"
MUSTIKAJAYA = "32.75.11"
KOTA_BEKASI = "32.75"
SYSTEM = Actor(id="system:test", role="system", kind="service")
SEEDED_TOPICS = 19


@pytest.fixture(autouse=True)
def _clean_state(clean_partners: None) -> Iterator[None]:
    """Each partners test starts from the migrated, empty database."""
    yield


# --- factories ---------------------------------------------------------------------------------

class Factory:
    """Builds organisations, people and offers through the real operations."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._n = 0

    def _next(self) -> int:
        self._n += 1
        return self._n

    def organisation(self, kind: str = "company", status: str = "verified",
                     **overrides: Any) -> tuple[Organisation, User]:
        n = self._next()
        data: dict[str, Any] = {
            "kind": kind, "name": f"PT Uji {n} (fiktif)", "address_region": MUSTIKASARI,
            "operating_regions": [MUSTIKAJAYA], "contact_name": "Kontak Uji",
            "contact_email": f"kontak{n}@uji.example", "contact_phone": "+6281200000099",
            "sector": "Uji", "address": None, "website": None,
            "admin": {"name": f"Admin {n}", "email": f"admin{n}-{uuid.uuid4().hex[:6]}@uji.example",
                      "password": PASSWORD, "locale": "id"},
        }
        if kind == "company":
            data.update(nib=f"{n:013d}", npwp=f"{n:016d}")
        elif kind == "university":
            data.update(pddikti_code=f"{n:06d}")
        data.update(overrides)
        with self.app.app_context():
            organisation, admin = organisations.register(db.session, SYSTEM, data)
            if status in {"verified", "rejected", "suspended"}:
                organisations.change_status(
                    db.session, SYSTEM, organisation,
                    "reject" if status == "rejected" else "verify", "test")
            if status == "suspended":
                organisations.change_status(db.session, SYSTEM, organisation, "suspend", "test")
            db.session.commit()
            return organisation, admin

    def agency(self) -> Organisation:
        with self.app.app_context():
            existing = db.session.scalar(sa.select(Organisation).where(Organisation.is_agency))
            if existing is not None:
                return existing
            agency = Organisation(kind="government", name="DP3A Uji", is_agency=True,
                                  status="verified", address_region="32.75",
                                  operating_regions=["32.75"], contact_name="DP3A",
                                  contact_email="dp3a@uji.example",
                                  contact_phone="+6281200000000")
            db.session.add(agency)
            db.session.commit()
            return agency

    def user(self, role: str, organisation: Organisation | None = None,
             region_codes: list[str] | None = None, locale: str = "id") -> User:
        if organisation is None:
            organisation = self.agency() if role in {"dp3a_officer", "dp3a_admin",
                                                     "coordinator"} else self.organisation()[0]
        if role == "coordinator" and region_codes is None:
            region_codes = [MUSTIKASARI]
        with self.app.app_context():
            user = User(organisation_id=organisation.id, email=f"{role}{self._next()}@uji.example",
                        name=f"Pengguna {role}", role=role, region_codes=region_codes or [],
                        locale=locale, password_hash=hash_password(PASSWORD))
            db.session.add(user)
            db.session.flush()
            # Announced like every new account, so notify's directory learns of the person.
            outbox.emit(db.session, "user.created", "user", user.id,
                        organisations.user_event_payload(user))
            db.session.commit()
            return user

    def token(self, user: User) -> str:
        return self._issue(accounts.claims_for_user(user))

    def service_token(self) -> str:
        return self._issue({"sub": "service:matching", "typ": "service", "role": "service"})

    def _issue(self, claims: dict[str, Any]) -> str:
        config = self.app.config
        return self.app.extensions["mitra_keyring"].issue(
            claims, issuer=config["JWT_ISSUER"], audience=config["JWT_AUDIENCE"],
            lifetime=timedelta(minutes=10))

    def offer(self, owner: User, status: str = "active", **overrides: Any):
        data: dict[str, Any] = {
            "kind": "trainer", "title": "Pelatih pemasaran digital", "description": "Uji",
            "topics": ["pemasaran_digital"], "unit": "sessions", "capacity": 10,
            "available_from": today_wib(), "available_to": today_wib() + timedelta(days=90),
            "delivery_regions": [MUSTIKAJAYA], "mode": "onsite", "language": "id",
        }
        data.update(overrides)
        actor = Actor(id=str(owner.id), role=owner.role, organisation_id=str(owner.organisation_id))
        with self.app.app_context():
            offer = offers.create(db.session, actor, data)
            if status != "draft":
                offers.change_status(db.session, actor, offer, "submit")
            if status == "withdrawn":
                offers.change_status(db.session, actor, offer, "withdraw")
            db.session.commit()
            return offer


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def audit_entries(app: Flask, **filters: Any) -> list:
    """Audit entries matching `filters` (e.g. action=..., object_id=...)."""
    with app.app_context():
        statement = sa.select(db.AuditEntry).order_by(db.AuditEntry.occurred_at)
        for name, value in filters.items():
            statement = statement.where(getattr(db.AuditEntry, name) == str(value))
        return list(db.session.scalars(statement))


def outbox_events(app: Flask, event_type: str | None = None) -> list:
    with app.app_context():
        statement = sa.select(db.OutboxEvent).order_by(db.OutboxEvent.occurred_at)
        if event_type:
            statement = statement.where(db.OutboxEvent.event_type == event_type)
        return list(db.session.scalars(statement))


def count_rows(app: Flask, model: Any) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))
