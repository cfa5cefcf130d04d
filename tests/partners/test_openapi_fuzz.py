"""Fuzz the partners API from its own OpenAPI document with schemathesis.

Whatever a signed-in DP3A admin or partner admin sends, valid or not, the service never
answers 500 and every answer matches what the OpenAPI documents: status code, media type,
body schema and headers; requests that violate the schema are refused with a 4xx.

Each (operation, identity) pair is its own test, against a small seeded world (a verified
company with an active offer, a draft, reservations, an API key and an invitation; a pending
organisation; DP3A's agency) so that lists return items and, half the time, path parameters
name things that exist. Generation is derandomized: CI sees the same requests every run."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from services.partners.models import Organisation, User, db
from services.partners.operations import accounts, capacity
from shared.audit import Actor
from tests.partners.conftest import SYSTEM, Factory, bearer
from tests.partners.test_roles import CALLERS, ENDPOINTS, World, send

MAX_EXAMPLES = 30
IDENTITIES = ("dp3a_admin", "partner_admin")
OPERATIONS = [(endpoint.method, endpoint.path) for endpoint in ENDPOINTS]
CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
    schemathesis.checks.response_headers_conformance,
    schemathesis.checks.negative_data_rejection,
]
CONFIG = {
    "generation": {
        # We send a real bearer token ourselves; a generated Authorization header would only
        # turn every request into a 401.
        "with-security-parameters": False,
        # The OpenAPI does not promise to refuse query parameters it does not list (webargs
        # ignores them, as most HTTP APIs do), so a request carrying one is not "invalid".
        "allow-extra-parameters": False,
    },
}


@dataclass
class Seeded:
    token: str
    ids: dict[str, list[str]]  # path parameter -> ids of things that exist


def _actor(user: User) -> Actor:
    return Actor(id=str(user.id), role=user.role, organisation_id=str(user.organisation_id))


def seed(app: Flask, identity: str) -> Seeded:
    make = Factory(app)
    company, admin = make.organisation()
    member = make.user("partner_member", company)
    pending, _ = make.organisation(status="pending")
    agency = make.agency()
    dp3a_admin = make.user("dp3a_admin", agency)
    officer = make.user("dp3a_officer", agency)
    make.user("coordinator", agency)
    offer = make.offer(admin)
    draft = make.offer(admin, status="draft", kind="funding", unit="rupiah", capacity=5_000_000)
    with app.app_context():
        capacity.reserve(db.session, SYSTEM, offer.id, "proposal-1", 2)
        capacity.reserve(db.session, SYSTEM, offer.id, "proposal-2", 1)
        capacity.commit(db.session, SYSTEM, offer.id, "proposal-2")
        company_key, _ = accounts.create_api_key(db.session, _actor(admin), "ERP",
                                                 "partner_member")
        agency_key, _ = accounts.create_api_key(db.session, _actor(dp3a_admin), "Dasbor",
                                                "dp3a_officer")
        accounts.invite(db.session, _actor(admin), db.session.get(Organisation, company.id),
                        {"email": "rekan@uji.example", "name": "Rekan", "role": "partner_member",
                         "region_codes": [], "locale": "id"}, timedelta(days=7))
        db.session.commit()
        key_ids = [str(company_key.id), str(agency_key.id)]
    caller = admin if identity == "partner_admin" else dp3a_admin
    return Seeded(token=make.token(caller), ids={
        "organisation_id": [str(company.id), str(pending.id), str(agency.id)],
        "offer_id": [str(offer.id), str(draft.id)],
        "user_id": [str(member.id), str(officer.id)],
        "key_id": key_ids,
        "reference": ["proposal-1", "proposal-2"],
        "code": ["32", "32.75", "32.75.11", "32.75.11.1004"],
    })


@pytest.fixture(scope="session")
def api_schema(app: Flask) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app,
                                          config=schemathesis.Config.from_dict(CONFIG))


@pytest.fixture
def seeded(app: Flask, identity: str) -> Seeded:
    return seed(app, identity)


def cases(operation, seeded: Seeded) -> st.SearchStrategy:
    """Valid and invalid requests, and valid ones aimed at things that exist."""
    strategies = [operation.as_strategy(GenerationMode.POSITIVE),
                  operation.as_strategy(GenerationMode.NEGATIVE)]
    names = [parameter.name for parameter in operation.path_parameters]
    if names:
        existing = st.fixed_dictionaries({name: st.sampled_from(seeded.ids[name])
                                          for name in names})
        strategies.append(existing.flatmap(
            lambda fixed: operation.as_strategy(GenerationMode.POSITIVE, path_parameters=fixed)))
    return st.one_of(strategies)


def check_pagination_header(response) -> None:
    """X-Pagination is documented as JSON content, which schemathesis does not validate."""
    [raw] = response.headers.get("x-pagination", ["{}"])
    metadata = json.loads(raw)
    assert isinstance(metadata, dict), raw
    assert set(metadata) <= {"total", "total_pages", "first_page", "last_page", "page",
                             "previous_page", "next_page"}, raw
    assert all(isinstance(value, int) for value in metadata.values()), raw


@pytest.mark.parametrize("identity", IDENTITIES)
@pytest.mark.parametrize("method, path", OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much, HealthCheck.data_too_large])
@given(data=st.data())
def test_any_request_gets_a_documented_answer(app, api_schema, seeded, identity, method, path,
                                              data):
    operation = api_schema[path][method]
    case = data.draw(cases(operation, seeded), label="request")
    headers = {**bearer(seeded.token), "If-Match": "*"}
    response = case.call_and_validate(headers=headers, checks=CHECKS, app=app)
    if response.status_code == 200 and "x-pagination" in response.headers:
        check_pagination_header(response)


def test_every_documented_operation_is_fuzzed(api_schema):
    documented = {(result.ok().method.upper(), result.ok().path)
                  for result in api_schema.get_all_operations()}
    assert documented == set(OPERATIONS)


def _first_success(endpoint) -> str:
    return next(caller for caller in CALLERS if 200 <= endpoint.expected(caller)[0] < 300)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e.label for e in ENDPOINTS])
def test_each_successful_answer_matches_its_documented_schema(client, app, make, api_schema,
                                                              endpoint):
    """Random bodies rarely pass every business rule (known topics, a free NIB, dates...), so
    the role table's well-formed requests check the success schemas the fuzzer may miss."""
    caller = _first_success(endpoint)
    response, _, _ = send(client, endpoint, World(app, make), caller)
    assert response.status_code == endpoint.expected(caller)[0], response.json
    api_schema[endpoint.path][endpoint.method].validate_response(response)
