"""Fuzz the partners API from its own OpenAPI document (schemathesis): whatever a signed-in
DP3A admin or partner admin sends, the service never answers 500 and every answer matches
the status codes, media types and schemas it documents."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from hypothesis import strategies as st

from services.partners.models import db
from services.partners.operations import accounts, capacity
from shared.audit import Actor
from tests.partners.conftest import SYSTEM, Factory

CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
    schemathesis.checks.response_headers_conformance,
    schemathesis.checks.negative_data_rejection,
]


@dataclass
class Seeded:
    """Real ids the fuzzer may use instead of random ones, so item endpoints find things."""

    ids: dict[str, list[str]]
    token: str


def _actor(user) -> Actor:
    return Actor(id=str(user.id), role=user.role, organisation_id=str(user.organisation_id))


def seed(app: Flask, role: str) -> Seeded:
    make = Factory(app)
    company, admin = make.organisation()
    member = make.user("partner_member", company)
    pending, _ = make.organisation(status="pending")
    agency = make.agency()
    dp3a_admin = make.user("dp3a_admin")
    officer = make.user("dp3a_officer")
    make.user("coordinator")
    offer = make.offer(admin)
    draft = make.offer(admin, status="draft", kind="funding", unit="rupiah", capacity=5_000_000)
    with app.app_context():
        capacity.reserve(db.session, SYSTEM, offer.id, "proposal-1", 2)
        capacity.reserve(db.session, SYSTEM, offer.id, "proposal-2", 1)
        capacity.commit(db.session, SYSTEM, offer.id, "proposal-2")
        key, _ = accounts.create_api_key(db.session, _actor(admin), "ERP", "partner_member")
        agency_key, _ = accounts.create_api_key(db.session, _actor(dp3a_admin), "Dashboard",
                                                "dp3a_officer")
        accounts.invite(db.session, _actor(admin), company,
                        {"email": "rekan@uji.example", "name": "Rekan", "role": "partner_member",
                         "region_codes": [], "locale": "id"}, timedelta(days=7))
        db.session.commit()
        key_ids = [str(key.id), str(agency_key.id)]
    caller = admin if role == "partner_admin" else dp3a_admin
    return Seeded(
        ids={
            "organisation_id": [str(company.id), str(pending.id), str(agency.id)],
            "offer_id": [str(offer.id), str(draft.id)],
            "user_id": [str(member.id), str(officer.id)],
            "key_id": key_ids,
            "reference": ["proposal-1", "proposal-2"],
            "code": ["32", "32.75", "32.75.11", "32.75.11.1004"],
        },
        token=make.token(caller),
    )


OPERATIONS = [('POST', '/api/v1/auth/token'), ('GET', '/.well-known/jwks.json'), ('GET', '/api/v1/organisations'), ('POST', '/api/v1/organisations'), ('GET', '/api/v1/organisations/{organisation_id}'), ('PATCH', '/api/v1/organisations/{organisation_id}'), ('POST', '/api/v1/organisations/{organisation_id}/verify'), ('POST', '/api/v1/organisations/{organisation_id}/reject'), ('POST', '/api/v1/organisations/{organisation_id}/suspend'), ('POST', '/api/v1/organisations/{organisation_id}/reinstate'), ('GET', '/api/v1/organisations/{organisation_id}/users'), ('POST', '/api/v1/organisations/{organisation_id}/invitations'), ('POST', '/api/v1/invitations/accept'), ('GET', '/api/v1/users/me'), ('PATCH', '/api/v1/users/me'), ('GET', '/api/v1/users/{user_id}'), ('PATCH', '/api/v1/users/{user_id}'), ('GET', '/api/v1/api-keys'), ('POST', '/api/v1/api-keys'), ('DELETE', '/api/v1/api-keys/{key_id}'), ('GET', '/api/v1/topics'), ('POST', '/api/v1/topics'), ('GET', '/api/v1/regions'), ('GET', '/api/v1/regions/{code}'), ('GET', '/api/v1/offers'), ('POST', '/api/v1/offers'), ('GET', '/api/v1/offers/{offer_id}'), ('PATCH', '/api/v1/offers/{offer_id}'), ('POST', '/api/v1/offers/{offer_id}/submit'), ('POST', '/api/v1/offers/{offer_id}/withdraw'), ('GET', '/api/v1/offers/{offer_id}/capacity'), ('GET', '/api/v1/offers/{offer_id}/reservations'), ('POST', '/api/v1/offers/{offer_id}/reservations'), ('POST', '/api/v1/offers/{offer_id}/reservations/{reference}/commit'), ('POST', '/api/v1/offers/{offer_id}/reservations/{reference}/release'), ('GET', '/api/v1/export/active-offers'), ('GET', '/api/v1/audit-log')]


@pytest.fixture(scope="session")
def schema(app: Flask):
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


def _strategy(operation, seeded: Seeded):
    names = [p.name for p in operation.path_parameters]
    strategies = [operation.as_strategy(), operation.as_strategy(GenerationMode.NEGATIVE)]
    if names and all(n in seeded.ids for n in names):
        for i in range(len(seeded.ids[names[0]])):
            fixed = {n: seeded.ids[n][min(i, len(seeded.ids[n]) - 1)] for n in names}
            strategies.append(operation.as_strategy(path_parameters=fixed))
    return st.one_of(strategies)


@pytest.fixture
def seeded(app, role):
    return seed(app, role)


@pytest.mark.parametrize("role", ["dp3a_admin", "partner_admin"])
@pytest.mark.parametrize("method, path", OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
@settings(max_examples=30, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_fuzz(app, schema, seeded, role, method, path, data):
    operation = schema[path][method]
    case = data.draw(_strategy(operation, seeded))
    headers = {"Authorization": f"Bearer {seeded.token}", "If-Match": "*"}
    case.call_and_validate(headers=headers, checks=CHECKS, app=app)
