"""Every caller against every matching endpoint, allowed and refused, and ownership past
the role check.

One explicit table says, for each operation of the matching OpenAPI, which callers get
through its role check and what each of them then gets. A refused caller gets exactly 401
(anonymous) or 403 (wrong role) as problem+json and changes nothing, in matching or at
partners; an allowed caller gets the outcome its business and ownership rules give. A test
fails when the OpenAPI lists an operation the table does not cover (or the other way round)."""
from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from services.matching.clients import partners
from services.matching.models import MatchRun, Proposal
from services.matching.models import db as matching_db
from services.matching.operations import decisions, runs
from services.partners.models import Organisation, User
from services.partners.models import db as partners_db
from services.partners.operations import accounts
from shared.audit import Actor
from shared.clock import today_wib
from shared.errors import PROBLEM_MIME
from tests.matching.conftest import MUSTIKAJAYA, MUSTIKASARI
from tests.partners.conftest import Factory, bearer

PADURENAN = "32.75.11.1001"
TODAY = today_wib()

# --- callers -----------------------------------------------------------------------------------

ANONYMOUS = "anonymous"
PARTNER_ADMIN = "partner_admin"
PARTNER_MEMBER = "partner_member"
OFFICER = "dp3a_officer"
DP3A_ADMIN = "dp3a_admin"
COORDINATOR = "coordinator"
SERVICE = "service"
API_KEY = "partner_api_key"  # a company's machine client, acting as partner_admin

CALLERS = (ANONYMOUS, PARTNER_ADMIN, PARTNER_MEMBER, OFFICER, DP3A_ADMIN, COORDINATOR, SERVICE,
           API_KEY)
ROLE = {PARTNER_ADMIN: "partner_admin", PARTNER_MEMBER: "partner_member", OFFICER: "dp3a_officer",
        DP3A_ADMIN: "dp3a_admin", COORDINATOR: "coordinator", SERVICE: "service",
        API_KEY: "partner_admin"}

EVERYONE = frozenset(CALLERS)
PEOPLE = frozenset({PARTNER_ADMIN, PARTNER_MEMBER, OFFICER, DP3A_ADMIN, COORDINATOR, API_KEY})
PARTNERS = frozenset({PARTNER_ADMIN, PARTNER_MEMBER, API_KEY})
DP3A = frozenset({OFFICER, DP3A_ADMIN})
EDITORS = DP3A | {COORDINATOR}


def _actor(user: User) -> Actor:
    return Actor(id=str(user.id), role=user.role, organisation_id=str(user.organisation_id),
                 region_codes=tuple(user.region_codes))


def insert_proposal(need_id: str, offer: Any, organisation: Organisation,
                    quantity: int = 2) -> str:
    """A proposed match as a run writes it, on a real offer at partners."""
    with matching_db.session_factory() as session:
        run = MatchRun(status="succeeded", scope={}, weights={}, phases={}, stats={})
        session.add(run)
        session.flush()
        proposal = Proposal(
            run_id=run.id, need_id=uuid.UUID(need_id), offer_id=offer.id,
            organisation_id=organisation.id, organisation_name=organisation.name,
            organisation_kind=organisation.kind, offer_title=offer.title, quantity=quantity,
            unit=offer.unit, score=0.7, explanation={"rules": {}, "components": {}},
            status="proposed")
        session.add(proposal)
        session.commit()
        return str(proposal.id)


def approve(matching_app: Flask, officer: User, proposal_id: str) -> None:
    """DP3A's approval through the real operation (it reserves the capacity at partners)."""
    with matching_app.app_context():
        proposal, why = decisions.approve(matching_db.session, _actor(officer), partners(),
                                          uuid.UUID(proposal_id))
        assert (proposal.status, why) == ("approved", None)
        matching_db.session.commit()


# --- the world each request runs against (built lazily) -----------------------------------------

class World:
    """DP3A (officer, admin, a Mustikasari coordinator), a verified company (admin, member, an
    API key, an active offer), a programme for Kecamatan Mustikajaya with a Mustikasari need,
    a proposed and an approved match, a finished and a queued run."""

    def __init__(self, app: Flask, make: Factory, client: FlaskClient,
                 matching_app: Flask) -> None:
        self.app = app
        self.make = make
        self.client = client
        self.matching_app = matching_app

    @cached_property
    def agency(self) -> Organisation:
        return self.make.agency()

    @cached_property
    def officer(self) -> User:
        return self.make.user("dp3a_officer", self.agency)

    @cached_property
    def dp3a_admin(self) -> User:
        return self.make.user("dp3a_admin", self.agency)

    @cached_property
    def coordinator(self) -> User:
        return self.make.user("coordinator", self.agency, region_codes=[MUSTIKASARI])

    @cached_property
    def _company(self) -> tuple[Organisation, User]:
        return self.make.organisation()

    @property
    def company(self) -> Organisation:
        return self._company[0]

    @property
    def admin(self) -> User:
        return self._company[1]

    @cached_property
    def member(self) -> User:
        return self.make.user("partner_member", self.company)

    @cached_property
    def offer(self):
        return self.make.offer(self.admin, capacity=10)

    @cached_property
    def officer_h(self) -> dict[str, str]:
        return bearer(self.make.token(self.officer))

    @cached_property
    def programme(self) -> dict[str, Any]:
        response = self.client.post("/api/v1/programmes", json={
            "name": "Sekoper Cinta Kecamatan Mustikajaya 2027", "region": MUSTIKAJAYA,
            "period_start": str(TODAY), "period_end": str(TODAY + timedelta(days=300)),
            "cohort_size": 100}, headers=self.officer_h)
        assert response.status_code == 201, response.json
        return response.json

    def post_need(self, region: str = MUSTIKASARI, **changes: Any) -> dict[str, Any]:
        body = {"programme_id": self.programme["id"], "kind": "trainer",
                "title": "Pelatih pemasaran digital", "topics": ["pemasaran_digital"],
                "quantity": 4, "unit": "sessions", "window_start": str(TODAY),
                "window_end": str(TODAY + timedelta(days=60)), "region": region, "priority": 4}
        body.update(changes)
        response = self.client.post("/api/v1/needs", json=body, headers=self.officer_h)
        assert response.status_code == 201, response.json
        return response.json

    @cached_property
    def need(self) -> dict[str, Any]:
        return self.post_need()

    @cached_property
    def proposed(self) -> str:
        return insert_proposal(self.need["id"], self.offer, self.company)

    @cached_property
    def approved(self) -> str:
        proposal_id = insert_proposal(self.need["id"], self.offer, self.company)
        approve(self.matching_app, self.officer, proposal_id)
        return proposal_id

    @cached_property
    def finished_run(self) -> str:
        with matching_db.session_factory() as session:
            run = MatchRun(status="succeeded", scope={}, weights={}, phases={}, stats={},
                           requested_by=str(self.officer.id))
            session.add(run)
            session.commit()
            return str(run.id)

    @cached_property
    def queued_run(self) -> str:
        """A run requested but not yet picked up by a worker (it is never enqueued)."""
        with self.matching_app.app_context():
            run = runs.request_run(matching_db.session, _actor(self.officer),
                                   {"programme_id": self.programme["id"]}, {})
            matching_db.session.commit()
            return str(run.id)

    # who calls

    def user_of(self, caller: str) -> User:
        return {PARTNER_ADMIN: lambda: self.admin, PARTNER_MEMBER: lambda: self.member,
                OFFICER: lambda: self.officer, DP3A_ADMIN: lambda: self.dp3a_admin,
                COORDINATOR: lambda: self.coordinator}[caller]()

    def headers_for(self, caller: str) -> dict[str, str]:
        if caller == ANONYMOUS:
            return {}
        if caller == SERVICE:
            return bearer(self.make.service_token())
        if caller == API_KEY:
            with self.app.app_context():
                _, full = accounts.create_api_key(partners_db.session, _actor(self.admin),
                                                  "Integrasi CSR", "partner_admin")
                claims = accounts.sign_in_with_api_key(partners_db.session, full)
                partners_db.session.commit()
            return bearer(self.make._issue(claims))
        return bearer(self.make.token(self.user_of(caller)))


# --- request bodies ----------------------------------------------------------------------------

def new_programme(world: World, caller: str) -> dict[str, Any]:
    return {"name": "Sekoper Cinta Kelurahan Padurenan 2027", "region": PADURENAN,
            "period_start": str(TODAY), "period_end": str(TODAY + timedelta(days=200)),
            "cohort_size": 80}


def new_need(world: World, caller: str) -> dict[str, Any]:
    return {"programme_id": world.programme["id"], "kind": "funding",
            "title": "Insentif fasilitator", "topics": ["insentif_fasilitator"],
            "quantity": 12_000_000, "unit": "rupiah", "window_start": str(TODAY),
            "window_end": str(TODAY + timedelta(days=90)), "region": MUSTIKASARI}


def const(body: Any) -> Callable[[World, str], Any]:
    return lambda world, caller: body


# --- the table ---------------------------------------------------------------------------------

Outcome = tuple[int, str | None]
NOTHING = const({})


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # the template, exactly as the OpenAPI spells it
    allowed: frozenset[str]
    success: int
    outcomes: Mapping[str, Outcome] = field(default_factory=dict)
    params: Callable[[World, str], dict[str, Any]] = NOTHING
    body: Callable[[World, str], Any] | None = None
    query: Callable[[World, str], dict[str, Any]] = NOTHING
    if_match: bool = False

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    def expected(self, caller: str) -> Outcome:
        if caller not in self.allowed:
            return (401, "unauthenticated") if caller == ANONYMOUS else (403, "forbidden")
        return self.outcomes.get(caller, (self.success, None))


programme = lambda w, c: {"programme_id": w.programme["id"]}
need = lambda w, c: {"need_id": w.need["id"]}
proposed = lambda w, c: {"proposal_id": w.proposed}
approved = lambda w, c: {"proposal_id": w.approved}
REASON = const({"reason": "Jadwal pelatih bentrok dengan kelas"})


def new_run(world: World, caller: str) -> dict[str, Any]:
    _ = (world.need, world.offer)  # something to match
    return {"programme_id": world.programme["id"]}


ENDPOINTS = [
    Endpoint("GET", "/api/v1/programmes", PEOPLE | {SERVICE}, 200),
    Endpoint("POST", "/api/v1/programmes", DP3A, 201, body=new_programme),
    Endpoint("GET", "/api/v1/programmes/{programme_id}", PEOPLE | {SERVICE}, 200,
             params=programme),
    Endpoint("PATCH", "/api/v1/programmes/{programme_id}", DP3A, 200, params=programme,
             body=const({"cohort_size": 90}), if_match=True),

    Endpoint("GET", "/api/v1/needs", PEOPLE | {SERVICE}, 200, query=const({"kind": "trainer"})),
    Endpoint("POST", "/api/v1/needs", EDITORS, 201, body=new_need),
    Endpoint("GET", "/api/v1/needs/{need_id}", PEOPLE | {SERVICE}, 200, params=need),
    Endpoint("PATCH", "/api/v1/needs/{need_id}", EDITORS, 200, params=need,
             body=const({"priority": 5}), if_match=True),
    Endpoint("POST", "/api/v1/needs/{need_id}/cancel", EDITORS, 200, params=need),

    Endpoint("GET", "/api/v1/match-runs", DP3A, 200),
    Endpoint("POST", "/api/v1/match-runs", DP3A, 202, body=new_run),
    Endpoint("GET", "/api/v1/match-runs/{run_id}", DP3A, 200,
             params=lambda w, c: {"run_id": w.finished_run}),
    Endpoint("POST", "/api/v1/match-runs/{run_id}/cancel", DP3A, 200,
             params=lambda w, c: {"run_id": w.queued_run}),

    Endpoint("GET", "/api/v1/proposals", PEOPLE, 200),
    Endpoint("GET", "/api/v1/proposals/{proposal_id}", PEOPLE, 200, params=approved),
    Endpoint("POST", "/api/v1/proposals/approve", DP3A, 200,
             body=lambda w, c: {"proposal_ids": [w.proposed]}),
    Endpoint("POST", "/api/v1/proposals/{proposal_id}/approve", DP3A, 200, params=proposed),
    Endpoint("POST", "/api/v1/proposals/{proposal_id}/reject", DP3A, 200, params=proposed,
             body=REASON),
    Endpoint("POST", "/api/v1/proposals/{proposal_id}/accept", PARTNERS, 200, params=approved),
    Endpoint("POST", "/api/v1/proposals/{proposal_id}/decline", PARTNERS, 200, params=approved,
             body=REASON),
    Endpoint("POST", "/api/v1/proposals/{proposal_id}/delivery", EDITORS, 201, params=approved,
             body=const({"delivered_quantity": 2, "rating": 5, "notes": "Kelas penuh"})),

    Endpoint("GET", "/api/v1/deliveries", PEOPLE, 200),
    Endpoint("GET", "/api/v1/reports/collaboration", DP3A, 200, query=lambda w, c: {
        "period_start": str(TODAY), "period_end": str(TODAY + timedelta(days=365)),
        "region": "32.75"}),
    Endpoint("GET", "/api/v1/proposals/{proposal_id}/alternatives", DP3A, 200,
             params=proposed),
    Endpoint("GET", "/api/v1/audit-log", DP3A, 200, query=const({"object_type": "need"})),
]
BY_LABEL = {endpoint.label: endpoint for endpoint in ENDPOINTS}
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


# --- helpers -----------------------------------------------------------------------------------

def _digest(database: Any) -> dict[str, str]:
    with database.engine.connect() as connection:
        return {table.name: connection.scalar(sa.text(
            f"SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) "
            f'FROM "{table.name}" t')) for table in database.metadata.sorted_tables}


def fingerprint() -> dict[str, dict[str, str]]:
    """Every row of both services' databases: equal before and after means nothing changed."""
    return {"matching": _digest(matching_db), "partners": _digest(partners_db)}


def wait_for_runs() -> None:
    """Let the worker finish what a test enqueued before the next test cleans the tables."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with matching_db.session_factory() as session:
            active = session.scalar(sa.select(sa.func.count()).select_from(MatchRun).where(
                MatchRun.status.in_(("queued", "running")), MatchRun.id.in_(ENQUEUED)))
        if not active:
            return
        time.sleep(0.05)
    raise AssertionError("an enqueued run did not finish")


ENQUEUED: list[uuid.UUID] = []


def send(client: FlaskClient, endpoint: Endpoint, world: World, caller: str):
    params = endpoint.params(world, caller)
    path = endpoint.path.format(**{name: str(value) for name, value in params.items()})
    headers = world.headers_for(caller)
    if endpoint.if_match:
        headers["If-Match"] = "*"
    kwargs: dict[str, Any] = {"headers": headers, "query_string": endpoint.query(world, caller)}
    if endpoint.body is not None:
        kwargs["json"] = endpoint.body(world, caller)
    before = fingerprint()
    response = client.open(path, method=endpoint.method, **kwargs)
    after = fingerprint()
    if endpoint.label == "POST /api/v1/match-runs" and response.status_code == 202:
        ENQUEUED.append(uuid.UUID(response.json["id"]))
        wait_for_runs()
    return response, before, after


@pytest.fixture
def world(app: Flask, make: Factory, mclient: FlaskClient, matching_app: Flask, celery_worker,
          clean_matching) -> World:
    return World(app, make, mclient, matching_app)


@pytest.fixture(scope="module")
def spec(matching_app: Flask) -> dict[str, Any]:
    response = matching_app.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.json


# --- the matrix --------------------------------------------------------------------------------

@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e.label for e in ENDPOINTS])
def test_each_caller_against_each_endpoint(world, endpoint, caller):
    status, problem_type = endpoint.expected(caller)
    response, before, after = send(world.client, endpoint, world, caller)

    assert response.status_code == status, (endpoint.label, caller, response.json)
    if status >= 400:
        assert response.content_type == PROBLEM_MIME
        assert response.json["status"] == status
        if problem_type:
            assert response.json["type"].endswith("/" + problem_type), response.json
        if status == 401:
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert after == before, "a refused request changed the database"
    elif endpoint.method == "GET":
        assert after == before
    else:
        assert after != before, "a successful write left no trace"


def test_the_table_covers_every_operation_of_the_openapi(spec):
    documented = {f"{method.upper()} {path}" for path, operations in spec["paths"].items()
                  for method in operations if method in HTTP_METHODS}
    assert documented - set(BY_LABEL) == set(), "operations the role table does not cover"
    assert set(BY_LABEL) - documented == set(), "table rows the OpenAPI no longer lists"
    assert len(BY_LABEL) == len(ENDPOINTS), "an operation appears twice in the table"


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e.label for e in ENDPOINTS])
def test_the_openapi_documents_who_may_call(spec, endpoint):
    operation = spec["paths"][endpoint.path][endpoint.method.lower()]
    assert operation["security"] == [{"bearerAuth": []}]
    [listed] = re.findall(r"Allowed: ([^.]*)\.", operation["description"])
    assert set(listed.split(", ")) == {ROLE[c] for c in endpoint.allowed}
    assert (API_KEY in endpoint.allowed) == (PARTNER_ADMIN in endpoint.allowed)


# --- ownership: past the role check ---------------------------------------------------------------

def test_a_coordinator_posts_and_edits_needs_only_in_her_regions(world):
    coordinator_h = world.headers_for(COORDINATOR)
    own = world.client.post("/api/v1/needs", json=new_need(world, COORDINATOR),
                            headers=coordinator_h)
    assert own.status_code == 201, own.json
    elsewhere = world.post_need(region=PADURENAN, title="Pelatih kewirausahaan Padurenan",
                                topics=["kewirausahaan"])
    before = fingerprint()

    response = world.client.post("/api/v1/needs", json={
        **new_need(world, COORDINATOR), "region": PADURENAN}, headers=coordinator_h)
    assert response.status_code == 403
    assert response.content_type == PROBLEM_MIME
    assert response.json["type"].endswith("/outside-your-regions")
    # Her own need cannot be moved out of her regions either.
    response = world.client.patch(f"/api/v1/needs/{own.json['id']}", json={"region": PADURENAN},
                                  headers={**coordinator_h, "If-Match": "*"})
    assert response.status_code == 403
    assert response.json["type"].endswith("/outside-your-regions")
    # Another kelurahan's need is not hers to see, so not hers to edit or cancel.
    for method, suffix, body in (("GET", "", None), ("PATCH", "", {"priority": 1}),
                                 ("POST", "/cancel", None)):
        response = world.client.open(f"/api/v1/needs/{elsewhere['id']}{suffix}", method=method,
                                     json=body, headers={**coordinator_h, "If-Match": "*"})
        assert response.status_code == 404, (method, suffix, response.json)
        assert response.content_type == PROBLEM_MIME
    assert fingerprint() == before

    listed = world.client.get("/api/v1/needs", headers=coordinator_h).json
    assert [n["id"] for n in listed] == [own.json["id"]]
    assert world.client.get("/api/v1/needs", query_string={"region": PADURENAN},
                            headers=coordinator_h).json == []
    # DP3A sees both; a coordinator of the whole kecamatan too.
    assert len(world.client.get("/api/v1/needs", headers=world.officer_h).json) == 2
    kecamatan = world.make.user("coordinator", world.agency, region_codes=[MUSTIKAJAYA])
    listed = world.client.get("/api/v1/needs", headers=bearer(world.make.token(kecamatan))).json
    assert {n["id"] for n in listed} == {own.json["id"], elsewhere["id"]}


def test_a_coordinator_sees_only_her_regions_proposals(world):
    coordinator_h = world.headers_for(COORDINATOR)
    mine = world.approved
    elsewhere_need = world.post_need(region=PADURENAN, title="Pelatih Padurenan")
    theirs = insert_proposal(elsewhere_need["id"], world.offer, world.company)

    listed = world.client.get("/api/v1/proposals", headers=coordinator_h)
    assert [p["id"] for p in listed.json] == [mine]
    assert world.client.get("/api/v1/proposals", query_string={"need_id": elsewhere_need["id"]},
                            headers=coordinator_h).json == []
    response = world.client.get(f"/api/v1/proposals/{theirs}", headers=coordinator_h)
    assert response.status_code == 404 and response.content_type == PROBLEM_MIME
    assert world.client.get(f"/api/v1/proposals/{mine}", headers=coordinator_h).status_code == 200
    officer_view = world.client.get("/api/v1/proposals", headers=world.officer_h).json
    assert {p["id"] for p in officer_view} == {mine, theirs}


def test_a_company_sees_only_its_own_approved_proposals_and_answers_only_those(world):
    other, other_admin = world.make.organisation(kind="university")
    other_offer = world.make.offer(other_admin, capacity=10)
    proposed_mine = world.proposed
    approved_mine = world.approved
    approved_theirs = insert_proposal(world.need["id"], other_offer, other, quantity=1)
    approve(world.matching_app, world.officer, approved_theirs)
    company_h = world.headers_for(PARTNER_ADMIN)

    listed = world.client.get("/api/v1/proposals", headers=company_h).json
    assert [p["id"] for p in listed] == [approved_mine]
    assert world.client.get("/api/v1/proposals", query_string={"organisation_id": str(other.id)},
                            headers=company_h).json == []
    for hidden in (proposed_mine, approved_theirs):
        assert world.client.get(f"/api/v1/proposals/{hidden}",
                                headers=company_h).status_code == 404

    before = fingerprint()
    for action, body in (("accept", None), ("decline", {"reason": "Bukan urusan kami"})):
        response = world.client.post(f"/api/v1/proposals/{approved_theirs}/{action}", json=body,
                                     headers=company_h)
        assert response.status_code == 403, (action, response.json)
        assert response.content_type == PROBLEM_MIME
        assert response.json["type"].endswith("/not-your-proposal")
    assert fingerprint() == before

    theirs_view = world.client.get("/api/v1/proposals",
                                   headers=bearer(world.make.token(other_admin))).json
    assert [p["id"] for p in theirs_view] == [approved_theirs]


def test_only_dp3a_decides_runs_and_reads_reports(world):
    """The refusals of the matrix, once more from the people most likely to try."""
    proposal_id = world.proposed
    callers = {caller: world.headers_for(caller) for caller in (COORDINATOR, PARTNER_ADMIN)}
    before = fingerprint()
    for caller, headers in callers.items():
        calls = [
            ("POST", f"/api/v1/proposals/{proposal_id}/approve", None),
            ("POST", "/api/v1/proposals/approve", {"proposal_ids": [proposal_id]}),
            ("POST", f"/api/v1/proposals/{proposal_id}/reject", {"reason": "Tidak cocok"}),
            ("POST", "/api/v1/match-runs", {}),
            ("GET", "/api/v1/match-runs", None),
            ("GET", "/api/v1/reports/collaboration?period_start=2027-01-01&period_end=2027-12-31",
             None),
        ]
        for method, path, body in calls:
            response = world.client.open(path, method=method, json=body, headers=headers)
            assert response.status_code == 403, (caller, path, response.json)
    assert fingerprint() == before
    response = world.client.get(f"/api/v1/proposals/{proposal_id}", headers=world.officer_h)
    assert response.json["status"] == "proposed"
