"""Fuzz the notify API from its own OpenAPI document with schemathesis.

Whatever a DP3A admin or a service sends, valid or not, notify never answers 500 and every
answer matches what the OpenAPI documents: status code, media type, body schema and headers;
requests that violate the schema are refused with a 4xx.

Each (operation, identity) pair is its own test, against a small seeded world (the caller
and a partner admin in the directory, with messages of their own) so that lists return items
and, half the time, path parameters name things that exist. Generation is derandomized: CI
sees the same requests every run."""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from services.notify.catalogue import BY_TYPE
from services.notify.models import LOCALES, TEMPLATED_CHANNELS
from tests.notify.conftest import wait_for
from tests.notify.helpers import Notify, by_channel, organisation_event
from tests.notify.test_api_roles import CALLERS, ENDPOINTS, World, send, wait_for_fan_out
from tests.partners.conftest import bearer
from tests.partners.test_roles import World as PartnersWorld

MAX_EXAMPLES = 100
IDENTITIES = ("dp3a_admin", "service")
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
        # webargs ignores query parameters it does not list, as most HTTP APIs do.
        "allow-extra-parameters": False,
    },
}


@pytest.fixture(autouse=True)
def _clean(clean_notify, clean_partners, notify_worker):
    yield


@dataclass
class Seeded:
    token: str
    ids: dict[str, list[str]]  # path parameter -> values that name something that exists


def seed(notify_app: Flask, app: Flask, make, identity: str) -> Seeded:
    notify = Notify(notify_app, make)
    world = World(notify, PartnersWorld(app, make))
    # A DP3A admin's and a partner admin's messages, in-app and by email.
    messages = [world.message_of("dp3a_admin"), world.message_of("partner_admin")]
    partner = world.partners.user_of("partner_admin")
    body = notify.send(*organisation_event(str(partner.organisation_id)))
    email = by_channel(notify.settled(body["id"], count=2))["email"]["id"]
    token = (make.service_token() if identity == "service"
             else make.token(world.partners.user_of(identity)))
    return Seeded(token=token, ids={
        "notification_id": [*messages, email],
        "event_type": sorted(BY_TYPE),
        "channel": list(TEMPLATED_CHANNELS),
        "locale": list(LOCALES),
    })


@pytest.fixture(scope="session")
def notify_schema(notify_app: Flask) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", notify_app,
                                          config=schemathesis.Config.from_dict(CONFIG))


@pytest.fixture
def seeded(notify_app: Flask, app: Flask, make, identity: str) -> Seeded:
    return seed(notify_app, app, make, identity)


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
def test_any_request_gets_a_documented_answer(notify_app, notify_schema, seeded, identity,
                                              method, path, data):
    operation = notify_schema[path][method]
    case = data.draw(cases(operation, seeded), label="request")
    response = case.call_and_validate(headers=bearer(seeded.token), checks=CHECKS,
                                      app=notify_app)
    if response.status_code == 200 and "x-pagination" in response.headers:
        check_pagination_header(response)


def test_every_documented_operation_is_fuzzed(notify_schema):
    documented = {(result.ok().method.upper(), result.ok().path)
                  for result in notify_schema.get_all_operations()}
    assert documented == set(OPERATIONS)


def _first_success(endpoint) -> str:
    return next(caller for caller in CALLERS if 200 <= endpoint.expected(caller)[0] < 300)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e.label for e in ENDPOINTS])
def test_each_successful_answer_matches_its_documented_schema(notify_app, app, make,
                                                              notify_schema, endpoint):
    """Random bodies rarely pass every rule (a known event type, a person in the directory),
    so the role table's well-formed requests check the success schemas the fuzzer may miss."""
    caller = _first_success(endpoint)
    world = World(Notify(notify_app, make), PartnersWorld(app, make))
    response, _, _ = send(world, endpoint, caller)
    assert response.status_code == endpoint.expected(caller)[0], response.json
    notify_schema[endpoint.path][endpoint.method].validate_response(response)
    wait_for_fan_out(world, endpoint, response)


# --- what the fuzzer does not generate, but a sender could -----------------------------------------

def _raw_event(occurred_at: str, payload: str) -> bytes:
    return (f'{{"id": "{uuid.uuid4()}", "type": "organisation.verified", '
            f'"source": "partners", "aggregate_type": "organisation", "aggregate_id": "x", '
            f'"occurred_at": "{occurred_at}", "payload": {payload}}}').encode()


@pytest.mark.parametrize("occurred_at, payload, field", [
    ("0001-01-01T00:00:00+05:00", "{}", "occurred_at"),  # before year 1 in UTC
    ("9999-12-31T23:59:59-05:00", "{}", "occurred_at"),  # after year 9999 in UTC
    ("2026-11-29T10:00:00", "{}", "occurred_at"),  # no zone
    ("2026-11-29T10:00:00+00:00", '{"quantity": 1e400}', "payload"),  # infinity
    ("2026-11-29T10:00:00+00:00", '{"name": "\\ud800"}', "payload"),  # a lone surrogate
    ("2026-11-29T10:00:00+00:00", '{"a": [{"\\udfff": 1}]}', "payload"),
    ("2026-11-29T10:00:00+00:00", '{"name": "\\u0000"}', "payload"),  # NUL
])
def test_events_that_could_not_be_stored_or_sent_on_are_refused(notify_app, make, occurred_at,
                                                                payload, field):
    headers = {**bearer(make.service_token()), "Content-Type": "application/json"}
    response = notify_app.test_client().post("/api/v1/events",
                                             data=_raw_event(occurred_at, payload),
                                             headers=headers)
    assert response.status_code == 422, response.json
    assert list(response.json["errors"]) == [field]
    # ...while big integers and negative zero are fine JSON.
    response = notify_app.test_client().post(
        "/api/v1/events", headers=headers,
        data=_raw_event("2026-11-29T10:00:00+07:00", '{"a": 100000000000000000000, "b": -0.0}'))
    assert response.status_code == 202, response.json
    wait_for(lambda: Notify(notify_app, make).processed(response.json["id"]),
             what="the fan-out")
