"""The matching service on its own PostgreSQL database, calling the real partners service
over HTTP, with a real Celery worker consuming from Redis."""
from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from flask.testing import FlaskClient

from services.matching.models import db as matching_db
from shared.clock import today_wib
from tests.conftest import CELERY_KEY_PREFIX, NOTIFY_URL, REDIS_URL
from tests.partners.conftest import (  # noqa: F401
    KOTA_BEKASI,
    MUSTIKAJAYA,
    MUSTIKASARI,
    SERVICE_SECRET,
    Factory,
    bearer,
)

# The matching app, its worker and the `world` fixture are in tests/conftest.py: notify's
# relay tests use them too, and a fixture must be defined once.

def matching_config(partners_url: str, database_url: str) -> dict[str, Any]:
    return {
        "DATABASE_URL": database_url, "PARTNERS_URL": partners_url,
        "MATCHING_CLIENT_SECRET": SERVICE_SECRET, "REDIS_URL": REDIS_URL,
        "CELERY_KEY_PREFIX": CELERY_KEY_PREFIX, "ACCESS_LOG": False, "TESTING": True,
        "PARTNERS_TIMEOUT_S": 5, "NOTIFY_URL": NOTIFY_URL, "OUTBOX_SWEEP_S": 1,
    }


class World:
    """A small Kota Bekasi: DP3A, a Mustikasari coordinator, a company with an offer."""

    def __init__(self, make: Factory, mclient: FlaskClient) -> None:
        self.make = make
        self.client = mclient
        self.officer = make.user("dp3a_officer")
        self.coordinator = make.user("coordinator", region_codes=[MUSTIKASARI])
        self.company, self.company_admin = make.organisation()
        self.officer_h = bearer(make.token(self.officer))
        self.coordinator_h = bearer(make.token(self.coordinator))
        self.company_h = bearer(make.token(self.company_admin))

    def offer(self, **overrides: Any):
        return self.make.offer(self.company_admin, **overrides)

    def programme(self, **overrides: Any) -> dict[str, Any]:
        body = {"name": "Sekoper Cinta Kelurahan Mustikasari 2027", "region": MUSTIKASARI,
                "period_start": str(today_wib()),
                "period_end": str(today_wib() + timedelta(days=300)), "cohort_size": 100}
        body.update(overrides)
        response = self.client.post("/api/v1/programmes", json=body, headers=self.officer_h)
        assert response.status_code == 201, response.json
        return response.json

    def need(self, programme_id: str, **overrides: Any) -> dict[str, Any]:
        body = {"programme_id": programme_id, "kind": "trainer",
                "title": "Pelatih pemasaran digital", "topics": ["pemasaran_digital"],
                "quantity": 4, "unit": "sessions", "window_start": str(today_wib()),
                "window_end": str(today_wib() + timedelta(days=60)), "region": MUSTIKASARI,
                "priority": 4}
        body.update(overrides)
        response = self.client.post("/api/v1/needs", json=body, headers=self.coordinator_h)
        assert response.status_code == 201, response.json
        return response.json

    def run(self, **scope: Any) -> dict[str, Any]:
        """Request a run and wait for the worker to finish it."""
        response = self.client.post("/api/v1/match-runs", json=scope, headers=self.officer_h)
        assert response.status_code == 202, response.json
        location = response.headers["Location"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            run = self.client.get(location, headers=self.officer_h).json
            if run["status"] not in ("queued", "running"):
                return run
            time.sleep(0.1)
        raise AssertionError(f"run did not finish: {run}")

    def proposals(self, **query: Any) -> list[dict[str, Any]]:
        response = self.client.get("/api/v1/proposals", query_string=query,
                                   headers=self.officer_h)
        assert response.status_code == 200, response.json
        return response.json


def matching_outbox(event_type: str) -> list:
    with matching_db.session_factory() as session:
        return list(session.scalars(sa.select(matching_db.OutboxEvent).where(
            matching_db.OutboxEvent.event_type == event_type)))


def matching_audit(**filters: Any) -> list:
    with matching_db.session_factory() as session:
        statement = sa.select(matching_db.AuditEntry).order_by(matching_db.AuditEntry.occurred_at)
        for name, value in filters.items():
            statement = statement.where(getattr(matching_db.AuditEntry, name) == str(value))
        return list(session.scalars(statement))


def new_id() -> str:
    return str(uuid.uuid4())
