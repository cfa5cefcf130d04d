"""Every caller against every notify endpoint, allowed and refused.

One explicit table says, for each operation of the notify OpenAPI, which callers get through
its role check and what each then gets. A refused caller gets exactly 401 (anonymous) or 403
(wrong role) as problem+json and changes nothing in notify's database; an allowed caller gets
what its ownership rules give. A test fails when the OpenAPI lists an operation the table
lacks (or the table one the API no longer has).

The callers are those of the partners role table (tests/partners/test_roles.py): people of
each role, a service token, and a company's API key (a machine acting as partner_admin, which
has no inbox or preferences of its own). Each person is in notify's directory through the
user.created event partners would send."""
from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from services.notify.catalogue import BY_TYPE
from services.notify.models import db as notify_db
from shared.errors import PROBLEM_MIME
from tests.notify.conftest import event, user_event, wait_for
from tests.notify.helpers import Notify, by_channel
from tests.partners.test_roles import (
    ANONYMOUS,
    API_KEY,
    CALLERS,
    COORDINATOR,
    DP3A_ADMIN,
    OFFICER,
    PARTNER_ADMIN,
    PARTNER_MEMBER,
    ROLE,
    SERVICE,
)
from tests.partners.test_roles import World as PartnersWorld

PEOPLE = frozenset({PARTNER_ADMIN, PARTNER_MEMBER, OFFICER, DP3A_ADMIN, COORDINATOR, API_KEY})
PERSONS = PEOPLE - {API_KEY}  # callers with an entry in notify's directory
DP3A = frozenset({OFFICER, DP3A_ADMIN})
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@pytest.fixture(autouse=True)
def _clean(clean_notify, clean_partners, notify_worker):
    yield


class World:
    """The partners world (a company with its admin and member, DP3A's agency with an officer,
    an admin and a coordinator, an API key), its people in notify's directory, and for each an
    in-app message of their own — all built lazily, each piece only when a test uses it."""

    def __init__(self, notify: Notify, partners: PartnersWorld) -> None:
        self.notify = notify
        self.partners = partners
        self._joined: set[str] = set()
        self._messages: dict[str, str] = {}

    def join(self, caller: str) -> None:
        if caller in self._joined:
            return
        user = self.partners.user_of(caller)
        self.notify.post(user_event(str(user.id), str(user.organisation_id), user.email,
                                    user.role, regions=list(user.region_codes)))
        wait_for(lambda: self.notify.recipient(str(user.id)), what=f"{caller} in the directory")
        self._joined.add(caller)

    def headers_for(self, caller: str) -> dict[str, str]:
        if caller in PERSONS:
            self.join(caller)
        return self.partners.headers_for(caller)

    def message_of(self, caller: str) -> str:
        """The id of an in-app message to `caller` (a person), or to the company's admin."""
        owner = caller if caller in PERSONS else PARTNER_ADMIN
        if owner not in self._messages:
            self.join(owner)
            user = self.partners.user_of(owner)
            body = self.notify.send("match_run.finished", {
                **BY_TYPE["match_run.finished"].sample, "requested_by": str(user.id)})
            self._messages[owner] = by_channel(self.notify.settled(body["id"], count=2))[
                "inapp"]["id"]
        return self._messages[owner]


def const(value: Any) -> Callable[[World, str], Any]:
    return lambda world, caller: value


NO_PARAMS = const({})


Outcome = tuple[int, str | None]  # status, and the problem type's slug when it matters


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # the template, exactly as the OpenAPI spells it
    allowed: frozenset[str]  # the callers its role check lets through
    success: int
    outcomes: Mapping[str, Outcome] = field(default_factory=dict)
    params: Callable[[World, str], dict[str, Any]] = NO_PARAMS
    body: Callable[[World, str], Any] | None = None
    writes: bool = True  # a successful call changes the database (GETs never do)

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    def expected(self, caller: str) -> Outcome:
        if caller not in self.allowed:
            return (401, "unauthenticated") if caller == ANONYMOUS else (403, "forbidden")
        return self.outcomes.get(caller, (self.success, None))


NOT_IN_DIRECTORY = {API_KEY: (404, "not-in-directory")}
MESSAGE = lambda w, c: {"notification_id": w.message_of(c)}
TEMPLATE = const({"event_type": "proposal.approved", "channel": "email", "locale": "en"})
DRAFT = const({"subject": "Match approved: {{ need_title }}",
               "body_text": "{{ organisation_name }}: {{ quantity }} {{ unit }}."})

def run_finished(world: World, caller: str) -> dict[str, Any]:
    return event("match_run.finished", {**BY_TYPE["match_run.finished"].sample,
                                        "requested_by": str(uuid.uuid4())})


ENDPOINTS = [
    Endpoint("POST", "/api/v1/events", frozenset({SERVICE}), 202, body=run_finished),
    Endpoint("POST", "/api/v1/events/batch", frozenset({SERVICE}), 200,
             body=lambda w, c: {"events": [run_finished(w, c), run_finished(w, c)]}),

    Endpoint("GET", "/api/v1/notifications", DP3A | {SERVICE}, 200),
    # DP3A and services read any; a person their own; an API key has none.
    Endpoint("GET", "/api/v1/notifications/{notification_id}", PEOPLE | {SERVICE}, 200,
             {API_KEY: (404, None)}, params=MESSAGE),

    Endpoint("GET", "/api/v1/inbox", PEOPLE, 200),
    Endpoint("GET", "/api/v1/inbox/unread-count", PEOPLE, 200),
    Endpoint("POST", "/api/v1/inbox/{notification_id}/read", PEOPLE, 200,
             {API_KEY: (404, None)}, params=MESSAGE),

    Endpoint("GET", "/api/v1/preferences", PEOPLE, 200, NOT_IN_DIRECTORY),
    Endpoint("PUT", "/api/v1/preferences", PEOPLE, 200, NOT_IN_DIRECTORY, body=const({
        "locale": "en", "preferences": [{"event_type": "*", "channels": ["inapp"]}]})),
    Endpoint("GET", "/api/v1/channels", PEOPLE, 200, NOT_IN_DIRECTORY),
    Endpoint("PUT", "/api/v1/channels", PEOPLE, 200, NOT_IN_DIRECTORY, body=const({
        "channel": "webhook", "address": "https://mitra.example/hook",
        "secret": "rahasia-yang-panjang-sekali"})),

    Endpoint("GET", "/api/v1/templates", DP3A, 200),
    Endpoint("GET", "/api/v1/templates/{event_type}/{channel}/{locale}", DP3A, 200,
             params=TEMPLATE),
    Endpoint("PUT", "/api/v1/templates/{event_type}/{channel}/{locale}",
             frozenset({DP3A_ADMIN}), 200, params=TEMPLATE, body=DRAFT),
    Endpoint("POST", "/api/v1/templates/{event_type}/{channel}/{locale}/preview", DP3A, 200,
             params=TEMPLATE, body=DRAFT, writes=False),
]
BY_LABEL = {endpoint.label: endpoint for endpoint in ENDPOINTS}


def fingerprint() -> dict[str, str]:
    """A digest of every row of every notify table: equal means nothing changed."""
    with notify_db.engine.connect() as connection:
        return {table.name: connection.scalar(sa.text(
            f'SELECT md5(coalesce(string_agg(t::text, \'|\' ORDER BY t::text), \'\')) '
            f'FROM "{table.name}" t')) for table in notify_db.metadata.sorted_tables}


def send(world: World, endpoint: Endpoint, caller: str):
    params = endpoint.params(world, caller)
    path = endpoint.path.format(**{name: str(value) for name, value in params.items()})
    headers = world.headers_for(caller)
    kwargs: dict[str, Any] = {"headers": headers}
    if endpoint.body is not None:
        kwargs["json"] = endpoint.body(world, caller)
    before = fingerprint()
    response = world.notify.client.open(path, method=endpoint.method, **kwargs)
    return response, before, fingerprint()


@pytest.fixture
def world(notify_app: Flask, app: Flask, make) -> World:
    return World(Notify(notify_app, make), PartnersWorld(app, make))


@pytest.fixture(scope="module")
def spec(notify_app: Flask) -> dict[str, Any]:
    response = notify_app.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.json


# --- the matrix --------------------------------------------------------------------------------

@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e.label for e in ENDPOINTS])
def test_each_caller_against_each_endpoint(world, endpoint, caller):
    status, problem_type = endpoint.expected(caller)
    response, before, after = send(world, endpoint, caller)

    assert response.status_code == status, (endpoint.label, caller, response.json)
    if status >= 400:
        assert response.content_type == PROBLEM_MIME
        assert response.json["status"] == status
        if problem_type:
            assert response.json["type"].endswith("/" + problem_type), response.json
        if status == 401:
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert after == before, "a refused request changed the database"
    elif endpoint.method == "GET" or not endpoint.writes:
        assert after == before
    else:
        assert after != before, "a successful write left no trace"
    wait_for_fan_out(world, endpoint, response)


def wait_for_fan_out(world: World, endpoint: Endpoint, response: Any) -> None:
    """Let the worker finish with the events a call stored before the database is emptied."""
    if response.status_code >= 300:
        return
    if endpoint.label == "POST /api/v1/events":
        stored = [response.json["id"]]
    elif endpoint.label == "POST /api/v1/events/batch":
        stored = [r["id"] for r in response.json["results"] if r["status"] != "refused"]
    else:
        return
    wait_for(lambda: all(world.notify.processed(i) for i in stored), what="the fan-out")


def test_the_table_covers_every_operation_of_the_openapi(spec):
    documented = {f"{method.upper()} {path}" for path, operations in spec["paths"].items()
                  for method in operations if method in HTTP_METHODS}
    assert documented - set(BY_LABEL) == set(), "operations the role table does not cover"
    assert set(BY_LABEL) - documented == set(), "table rows the OpenAPI no longer lists"
    assert len(BY_LABEL) == len(ENDPOINTS) == 15, "an operation appears twice in the table"


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e.label for e in ENDPOINTS])
def test_the_openapi_documents_who_may_call(spec, endpoint):
    operation = spec["paths"][endpoint.path][endpoint.method.lower()]
    assert operation["security"] == [{"bearerAuth": []}]
    [listed] = re.findall(r"Allowed: ([^.]*)\.", operation["description"])
    assert set(listed.split(", ")) == {ROLE[c] for c in endpoint.allowed}
    assert (API_KEY in endpoint.allowed) == (PARTNER_ADMIN in endpoint.allowed)


# --- past the role check: one's own messages only ---------------------------------------------------

def test_people_see_only_their_own_messages_and_dp3a_sees_all(world):
    mine = world.message_of(PARTNER_MEMBER)
    theirs = world.message_of(COORDINATOR)
    client = world.notify.client
    member = world.headers_for(PARTNER_MEMBER)
    inbox = client.get("/api/v1/inbox", headers=member).json
    assert [m["id"] for m in inbox] == [mine]
    before = fingerprint()
    assert client.get(f"/api/v1/notifications/{theirs}", headers=member).status_code == 404
    assert client.post(f"/api/v1/inbox/{theirs}/read", headers=member).status_code == 404
    assert fingerprint() == before
    for caller in (OFFICER, DP3A_ADMIN, SERVICE):
        headers = world.headers_for(caller)
        for notification_id in (mine, theirs):
            response = client.get(f"/api/v1/notifications/{notification_id}", headers=headers)
            assert response.status_code == 200, (caller, response.json)
        listed = client.get("/api/v1/notifications?channel=inapp", headers=headers).json
        assert {mine, theirs} <= {n["id"] for n in listed}
    # ...but reading one's messages is for the person: DP3A cannot mark another's read.
    officer = world.headers_for(OFFICER)
    assert client.post(f"/api/v1/inbox/{mine}/read", headers=officer).status_code == 404


def test_unknown_ids_are_404_for_callers_who_pass_the_role_check(world):
    client = world.notify.client
    missing = uuid.uuid4()
    for caller in (PARTNER_ADMIN, OFFICER, SERVICE):
        response = client.get(f"/api/v1/notifications/{missing}",
                              headers=world.headers_for(caller))
        assert response.status_code == 404 and response.content_type == PROBLEM_MIME
    response = client.post(f"/api/v1/inbox/{missing}/read",
                           headers=world.headers_for(PARTNER_ADMIN))
    assert response.status_code == 404


def test_a_bad_token_is_401_not_anonymous(world):
    client = world.notify.client
    for header in ("Bearer not-a-token", "Basic dXNlcjpwYXNz", "Bearer "):
        response = client.get("/api/v1/inbox", headers={"Authorization": header})
        assert response.status_code == 401, header
        assert response.content_type == PROBLEM_MIME
