"""Fuzz the matching API from its own OpenAPI document with schemathesis.

Whatever a signed-in DP3A admin or a Mustikasari coordinator sends, valid or not, the service
never answers 500 and every answer matches what the OpenAPI documents: status code, media
type, body schema and headers; requests that violate the schema are refused with a 4xx.

Each (operation, identity) pair is its own test, against a small seeded world (a programme,
needs inside and outside the coordinator's kelurahan, proposed and approved matches on a real
offer at partners, a finished run and a queued one) so that lists return items and path
parameters often name things that exist. The queued run holds the seeded needs, so fuzzed run
requests over them are refused (409) rather than flooding the worker; the few runs that are
enqueued are waited for. Generation is derandomized: CI sees the same requests every run."""
from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import schemathesis
import sqlalchemy as sa
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from services.matching.models import MatchRun
from services.matching.models import db as matching_db
from tests.matching.conftest import MUSTIKAJAYA, MUSTIKASARI
from tests.matching.test_api_roles import (
    CALLERS,
    ENDPOINTS,
    World,
    approve,
    insert_proposal,
    send,
)
from tests.partners.conftest import bearer

MAX_EXAMPLES = 20
IDENTITIES = ("dp3a_admin", "coordinator")
OPERATIONS = [(endpoint.method, endpoint.path) for endpoint in ENDPOINTS]
PADURENAN = "32.75.11.1001"
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
        # Query parameters the OpenAPI does not list are ignored (as by most HTTP APIs), so a
        # request carrying one is not "invalid".
        "allow-extra-parameters": False,
    },
}


@dataclass
class Seeded:
    token: str
    ids: dict[str, list[str]]  # path parameter -> ids of things that exist
    queued_run: str


def seed(world: World, identity: str) -> Seeded:
    world.offer  # noqa: B018 - an active offer of 10 sessions at partners
    mine = world.need
    theirs = world.post_need(region=PADURENAN, title="Pelatih kewirausahaan Padurenan",
                             topics=["kewirausahaan"])
    funding = world.post_need(kind="funding", unit="rupiah", quantity=5_000_000,
                              title="Insentif fasilitator", topics=["insentif_fasilitator"])
    outside = insert_proposal(theirs["id"], world.offer, world.company, quantity=1)
    approved = insert_proposal(mine["id"], world.offer, world.company, quantity=1)
    approve(world.matching_app, world.officer, approved)
    caller = world.dp3a_admin if identity == "dp3a_admin" else world.coordinator
    return Seeded(token=world.make.token(caller), queued_run=world.queued_run, ids={
        "programme_id": [world.programme["id"]],
        "need_id": [mine["id"], theirs["id"], funding["id"]],
        "run_id": [world.finished_run, world.queued_run],
        "proposal_id": [world.proposed, approved, outside],
    })


@pytest.fixture(scope="session")
def api_schema(matching_app: Flask) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", matching_app,
                                          config=schemathesis.Config.from_dict(CONFIG))


@pytest.fixture
def world(app, make, mclient, matching_app, celery_worker, clean_matching) -> World:
    return World(app, make, mclient, matching_app)


@pytest.fixture
def seeded(world: World, identity: str) -> Iterator[Seeded]:
    seeded = seed(world, identity)
    yield seeded
    # Let the worker finish any run the fuzzer enqueued before the tables are emptied.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with matching_db.session_factory() as session:
            active = session.scalar(sa.select(sa.func.count()).select_from(MatchRun).where(
                MatchRun.status.in_(("queued", "running")),
                MatchRun.id != uuid.UUID(seeded.queued_run)))
        if not active:
            return
        time.sleep(0.05)
    raise AssertionError("an enqueued run did not finish")


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
def test_any_request_gets_a_documented_answer(matching_app, api_schema, seeded, identity, method,
                                              path, data):
    operation = api_schema[path][method]
    case = data.draw(cases(operation, seeded), label="request")
    headers = {**bearer(seeded.token), "If-Match": "*"}
    response = case.call_and_validate(headers=headers, checks=CHECKS, app=matching_app)
    if response.status_code == 200 and "x-pagination" in response.headers:
        check_pagination_header(response)


def test_every_documented_operation_is_fuzzed(api_schema):
    documented = {(result.ok().method.upper(), result.ok().path)
                  for result in api_schema.get_all_operations()}
    assert documented == set(OPERATIONS)


def _first_success(endpoint) -> str:
    return next(caller for caller in CALLERS if 200 <= endpoint.expected(caller)[0] < 300)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e.label for e in ENDPOINTS])
def test_each_successful_answer_matches_its_documented_schema(world, api_schema, endpoint):
    """Random bodies rarely pass every business rule (a programme that exists, a region inside
    it, a proposal in the right state...), so the role table's well-formed requests check the
    success schemas the fuzzer may miss."""
    caller = _first_success(endpoint)
    response, _, _ = send(world.client, endpoint, world, caller)
    assert response.status_code == endpoint.expected(caller)[0], response.get_data(as_text=True)
    api_schema[endpoint.path][endpoint.method].validate_response(response)


def test_the_seeded_world_is_what_the_fuzzer_aims_at(world):
    """The coordinator's kelurahan and the programme's kecamatan, as the docstring says."""
    seeded = seed(world, "coordinator")
    assert world.programme["region"] == MUSTIKAJAYA
    assert world.need["region"] == MUSTIKASARI
    assert len(seeded.ids["proposal_id"]) == 3
    assert world.client.get(f"/api/v1/match-runs/{seeded.queued_run}",
                            headers=world.officer_h).json["status"] == "queued"
