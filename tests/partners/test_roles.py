"""Every caller against every endpoint, allowed and refused.

One explicit table says, for each operation of the partners OpenAPI, which callers get
through its role check and what each of them then gets. A refused caller gets exactly 401
(anonymous) or 403 (wrong role) as problem+json and changes nothing; an allowed caller gets
the outcome its business and ownership rules give. A test fails when the OpenAPI lists an
operation the table does not cover (or the table an operation the API no longer has)."""
from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from services.partners.models import Organisation, User, db
from services.partners.operations import accounts, capacity
from shared.audit import Actor
from shared.clock import today_wib
from shared.errors import PROBLEM_MIME
from tests.partners.conftest import MUSTIKASARI, PASSWORD, SYSTEM, Factory, bearer

# --- callers -----------------------------------------------------------------------------------

ANONYMOUS = "anonymous"
PARTNER_ADMIN = "partner_admin"
PARTNER_MEMBER = "partner_member"
OFFICER = "dp3a_officer"
DP3A_ADMIN = "dp3a_admin"
COORDINATOR = "coordinator"
SERVICE = "service"
API_KEY = "partner_api_key"  # a machine client of a company, acting as partner_admin

CALLERS = (ANONYMOUS, PARTNER_ADMIN, PARTNER_MEMBER, OFFICER, DP3A_ADMIN, COORDINATOR, SERVICE,
           API_KEY)
# The role each caller presents to the role check (as the OpenAPI names it).
ROLE = {PARTNER_ADMIN: "partner_admin", PARTNER_MEMBER: "partner_member", OFFICER: "dp3a_officer",
        DP3A_ADMIN: "dp3a_admin", COORDINATOR: "coordinator", SERVICE: "service",
        API_KEY: "partner_admin"}
AGENCY_PEOPLE = frozenset({OFFICER, DP3A_ADMIN, COORDINATOR})

EVERYONE = frozenset(CALLERS)
PEOPLE = frozenset({PARTNER_ADMIN, PARTNER_MEMBER, OFFICER, DP3A_ADMIN, COORDINATOR, API_KEY})
PARTNERS = frozenset({PARTNER_ADMIN, PARTNER_MEMBER, API_KEY})
DP3A = frozenset({OFFICER, DP3A_ADMIN})
ADMINS = frozenset({PARTNER_ADMIN, DP3A_ADMIN, API_KEY})


# --- the world each request runs against (built lazily: a test builds only what it uses) ----------

def _actor(user: User) -> Actor:
    return Actor(id=str(user.id), role=user.role, organisation_id=str(user.organisation_id))


class World:
    """A verified company (admin, member, an active offer with a reservation, a draft, an API
    key, a pending invitation), DP3A's agency (officer, admin, coordinator, an API key), a
    pending and a suspended organisation."""

    def __init__(self, app: Flask, make: Factory) -> None:
        self.app = app
        self.make = make

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
        return self.make.user("coordinator", self.agency)

    @cached_property
    def pending(self) -> Organisation:
        return self.make.organisation(status="pending")[0]

    @cached_property
    def suspended(self) -> Organisation:
        return self.make.organisation(status="suspended")[0]

    @cached_property
    def offer(self):
        return self.make.offer(self.admin)

    @cached_property
    def draft(self):
        return self.make.offer(self.admin, status="draft")

    @cached_property
    def reservation(self) -> str:
        offer_id = self.offer.id
        with self.app.app_context():
            entry, _ = capacity.reserve(db.session, SYSTEM, offer_id, "proposal-1", 2)
            db.session.commit()
            return entry.reference

    def _api_key(self, owner: User, role: str) -> tuple[str, str]:
        with self.app.app_context():
            key, full = accounts.create_api_key(db.session, _actor(owner), "Integrasi", role)
            db.session.commit()
            return str(key.id), full

    @cached_property
    def company_key(self) -> tuple[str, str]:
        return self._api_key(self.admin, "partner_member")

    @cached_property
    def agency_key(self) -> tuple[str, str]:
        return self._api_key(self.dp3a_admin, "dp3a_officer")

    @cached_property
    def invitation_token(self) -> str:
        lifetime = timedelta(days=7)
        with self.app.app_context():
            company = db.session.get(Organisation, self.company.id)
            _, token = accounts.invite(db.session, _actor(self.admin), company, {
                "email": "undangan@uji.example", "name": "Rekan Diundang",
                "role": "partner_member", "region_codes": [], "locale": "id"}, lifetime)
            db.session.commit()
            return token

    # who calls

    def user_of(self, caller: str) -> User | None:
        return {PARTNER_ADMIN: lambda: self.admin, PARTNER_MEMBER: lambda: self.member,
                OFFICER: lambda: self.officer, DP3A_ADMIN: lambda: self.dp3a_admin,
                COORDINATOR: lambda: self.coordinator}.get(caller, lambda: None)()

    def headers_for(self, caller: str) -> dict[str, str]:
        if caller == ANONYMOUS:
            return {}
        if caller == SERVICE:
            return bearer(self.make.service_token())
        if caller == API_KEY:
            _, full = self._api_key(self.admin, "partner_admin")
            with self.app.app_context():
                claims = accounts.sign_in_with_api_key(db.session, full)
                db.session.commit()
            return bearer(self.make._issue(claims))
        return bearer(self.make.token(self.user_of(caller)))

    def own_organisation(self, caller: str) -> Organisation:
        return self.agency if caller in AGENCY_PEOPLE else self.company

    def colleague(self, caller: str) -> User:
        """Someone in the caller's organisation other than the caller."""
        return self.officer if caller in AGENCY_PEOPLE - {OFFICER} else self.member

    def own_key(self, caller: str) -> str:
        return (self.agency_key if caller in AGENCY_PEOPLE else self.company_key)[0]


# --- request bodies ----------------------------------------------------------------------------

def registration(world: World, caller: str) -> dict[str, Any]:
    return {
        "kind": "company", "name": "PT Baru Bersama (fiktif)", "nib": "9876543210987",
        "npwp": "9876543210987654", "address_region": MUSTIKASARI,
        "operating_regions": ["32.75.11"], "contact_name": "Budi Santoso",
        "contact_email": "csr@baru.example", "contact_phone": "081234567890",
        "admin": {"name": "Budi Santoso", "email": "budi@baru.example", "password": PASSWORD},
    }


def new_offer(world: World, caller: str) -> dict[str, Any]:
    return {
        "kind": "module", "title": "Modul literasi keuangan", "topics": ["pemasaran_digital"],
        "unit": "seats", "capacity": 25, "available_from": today_wib().isoformat(),
        "available_to": (today_wib() + timedelta(days=60)).isoformat(),
        "delivery_regions": ["32.75.11"], "mode": "online",
    }


def invitation(world: World, caller: str) -> dict[str, Any]:
    role = "dp3a_officer" if caller in AGENCY_PEOPLE else "partner_member"
    return {"email": "calon.rekan@uji.example", "name": "Calon Rekan", "role": role}


def api_key_request(world: World, caller: str) -> dict[str, Any]:
    return {"name": "Integrasi ERP",
            "role": "dp3a_officer" if caller in AGENCY_PEOPLE else "partner_member"}


def const(body: Any) -> Callable[[World, str], Any]:
    return lambda world, caller: body


# --- the table ---------------------------------------------------------------------------------

Outcome = tuple[int, str | None]  # status, and the problem type's slug when it matters


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # the template, exactly as the OpenAPI spells it
    allowed: frozenset[str]  # the callers its role check lets through
    success: int  # what an allowed caller gets...
    outcomes: Mapping[str, Outcome] = field(default_factory=dict)  # ...unless listed here
    params: Callable[[World, str], dict[str, Any]] = const({})
    body: Callable[[World, str], Any] | None = None
    if_match: bool = False

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    def expected(self, caller: str) -> Outcome:
        if caller not in self.allowed:
            return (401, "unauthenticated") if caller == ANONYMOUS else (403, "forbidden")
        return self.outcomes.get(caller, (self.success, None))


NOT_YOURS = "not-your-organisation"
company = lambda w, c: {"organisation_id": w.company.id}  # noqa: E731
offer = lambda w, c: {"offer_id": w.offer.id}  # noqa: E731
reservation = lambda w, c: {"offer_id": w.offer.id, "reference": w.reservation}  # noqa: E731
REASON = const({"reason": "Dokumen sudah diperiksa"})

ENDPOINTS = [
    Endpoint("POST", "/api/v1/auth/token", EVERYONE, 200, body=lambda w, c: {
        "grant_type": "password", "email": w.admin.email, "password": PASSWORD}),
    Endpoint("GET", "/.well-known/jwks.json", EVERYONE, 200),

    Endpoint("GET", "/api/v1/organisations", DP3A | {SERVICE}, 200),
    Endpoint("POST", "/api/v1/organisations", EVERYONE, 201, body=registration),
    Endpoint("GET", "/api/v1/organisations/{organisation_id}", PEOPLE | {SERVICE}, 200,
             {COORDINATOR: (403, NOT_YOURS)}, params=company),
    Endpoint("PATCH", "/api/v1/organisations/{organisation_id}", ADMINS, 200,
             params=company, body=const({"sector": "Ritel"}), if_match=True),
    Endpoint("POST", "/api/v1/organisations/{organisation_id}/verify", DP3A, 200,
             params=lambda w, c: {"organisation_id": w.pending.id}, body=const({})),
    Endpoint("POST", "/api/v1/organisations/{organisation_id}/reject", DP3A, 200,
             params=lambda w, c: {"organisation_id": w.pending.id}, body=REASON),
    Endpoint("POST", "/api/v1/organisations/{organisation_id}/suspend", DP3A, 200,
             params=company, body=REASON),
    Endpoint("POST", "/api/v1/organisations/{organisation_id}/reinstate", DP3A, 200,
             params=lambda w, c: {"organisation_id": w.suspended.id}, body=const({})),
    Endpoint("GET", "/api/v1/organisations/{organisation_id}/users", PEOPLE | {SERVICE}, 200,
             {PARTNER_MEMBER: (403, NOT_YOURS), COORDINATOR: (403, NOT_YOURS)}, params=company),
    Endpoint("POST", "/api/v1/organisations/{organisation_id}/invitations", PARTNERS | DP3A, 201,
             {PARTNER_MEMBER: (403, NOT_YOURS), OFFICER: (403, NOT_YOURS),
              API_KEY: (403, "people-only")},
             params=lambda w, c: {"organisation_id": w.own_organisation(c).id}, body=invitation),
    Endpoint("POST", "/api/v1/invitations/accept", EVERYONE, 201, body=lambda w, c: {
        "token": w.invitation_token, "name": "Rekan Diundang", "password": PASSWORD}),

    Endpoint("GET", "/api/v1/users/me", PEOPLE, 200, {API_KEY: (403, "forbidden")}),
    Endpoint("PATCH", "/api/v1/users/me", PEOPLE, 200, {API_KEY: (403, "forbidden")},
             body=const({"name": "Nama Baru"}), if_match=True),
    Endpoint("GET", "/api/v1/users/{user_id}", ADMINS, 200,
             params=lambda w, c: {"user_id": w.colleague(c).id}),
    Endpoint("PATCH", "/api/v1/users/{user_id}", ADMINS, 200,
             params=lambda w, c: {"user_id": w.colleague(c).id},
             body=const({"is_active": False}), if_match=True),
    Endpoint("GET", "/api/v1/api-keys", ADMINS, 200),
    Endpoint("POST", "/api/v1/api-keys", ADMINS, 201, {API_KEY: (403, "people-only")},
             body=api_key_request),
    Endpoint("DELETE", "/api/v1/api-keys/{key_id}", ADMINS, 200,
             params=lambda w, c: {"key_id": w.own_key(c)}),

    Endpoint("GET", "/api/v1/topics", EVERYONE, 200),
    Endpoint("POST", "/api/v1/topics", frozenset({DP3A_ADMIN}), 201, body=const({
        "code": "literasi_hukum_uji", "label_id": "Literasi hukum", "label_en": "Legal literacy"})),
    Endpoint("GET", "/api/v1/regions", EVERYONE, 200),
    Endpoint("GET", "/api/v1/regions/{code}", EVERYONE, 200, params=const({"code": "32.75"})),

    Endpoint("GET", "/api/v1/offers", PEOPLE | {SERVICE}, 200),
    Endpoint("POST", "/api/v1/offers", PARTNERS, 201, body=new_offer),
    Endpoint("GET", "/api/v1/offers/{offer_id}", PEOPLE | {SERVICE}, 200, params=offer),
    Endpoint("PATCH", "/api/v1/offers/{offer_id}", PARTNERS, 200, params=offer,
             body=const({"title": "Pelatih pemasaran digital lanjutan"}), if_match=True),
    Endpoint("POST", "/api/v1/offers/{offer_id}/submit", PARTNERS, 200,
             params=lambda w, c: {"offer_id": w.draft.id}),
    Endpoint("POST", "/api/v1/offers/{offer_id}/withdraw", PARTNERS, 200, params=offer),
    Endpoint("GET", "/api/v1/offers/{offer_id}/capacity", PEOPLE | {SERVICE}, 200, params=offer),
    Endpoint("GET", "/api/v1/offers/{offer_id}/reservations", PEOPLE | {SERVICE}, 200,
             params=offer),
    Endpoint("POST", "/api/v1/offers/{offer_id}/reservations", DP3A | {SERVICE}, 201,
             params=offer, body=const({"reference": "proposal-2", "quantity": 1})),
    Endpoint("POST", "/api/v1/offers/{offer_id}/reservations/{reference}/commit",
             DP3A | {SERVICE}, 200, params=reservation),
    Endpoint("POST", "/api/v1/offers/{offer_id}/reservations/{reference}/release",
             DP3A | {SERVICE}, 200, params=reservation),

    Endpoint("GET", "/api/v1/export/active-offers", frozenset({SERVICE}), 200),
    Endpoint("GET", "/api/v1/audit-log", DP3A, 200),
]
BY_LABEL = {endpoint.label: endpoint for endpoint in ENDPOINTS}
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


# --- helpers -----------------------------------------------------------------------------------

def fingerprint() -> dict[str, str]:
    """A digest of every row of every table: equal before and after means nothing changed."""
    with db.engine.connect() as connection:
        return {table.name: connection.scalar(sa.text(
            f'SELECT md5(coalesce(string_agg(t::text, \'|\' ORDER BY t::text), \'\')) '
            f'FROM "{table.name}" t')) for table in db.metadata.sorted_tables}


def send(client, endpoint: Endpoint, world: World, caller: str):
    params = endpoint.params(world, caller)
    path = endpoint.path.format(**{name: str(value) for name, value in params.items()})
    headers = world.headers_for(caller)
    if endpoint.if_match:
        headers["If-Match"] = "*"
    kwargs: dict[str, Any] = {"headers": headers}
    if endpoint.body is not None:
        kwargs["json"] = endpoint.body(world, caller)
    before = fingerprint()
    response = client.open(path, method=endpoint.method, **kwargs)
    return response, before, fingerprint()


@pytest.fixture(scope="module")
def spec(app: Flask) -> dict[str, Any]:
    response = app.test_client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.json


# --- the matrix --------------------------------------------------------------------------------

@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e.label for e in ENDPOINTS])
def test_each_caller_against_each_endpoint(client, app, make, endpoint, caller):
    world = World(app, make)
    status, problem_type = endpoint.expected(caller)
    response, before, after = send(client, endpoint, world, caller)

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
    assert len(spec["paths"]) == 28


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e.label for e in ENDPOINTS])
def test_the_openapi_documents_who_may_call(spec, endpoint):
    operation = spec["paths"][endpoint.path][endpoint.method.lower()]
    if endpoint.allowed == EVERYONE:
        assert operation["security"] == []
        return
    assert operation["security"] == [{"bearerAuth": []}]
    [listed] = re.findall(r"Allowed: ([^.]*)\.", operation["description"])
    assert set(listed.split(", ")) == {ROLE[c] for c in endpoint.allowed}
    assert (API_KEY in endpoint.allowed) == (PARTNER_ADMIN in endpoint.allowed)


# --- ownership: past the role check, an organisation's things stay its own -----------------------

@pytest.fixture
def other(make) -> tuple[Organisation, User]:
    """A second verified company and its admin."""
    return make.organisation()


def test_a_company_admin_cannot_change_another_companys_offer(client, app, make, other):
    world = World(app, make)
    _, intruder = other
    headers = {**bearer(make.token(intruder)), "If-Match": "*"}
    offer_id, draft_id = world.offer.id, world.draft.id
    before = fingerprint()
    response = client.patch(f"/api/v1/offers/{offer_id}", json={"title": "Dibajak"},
                            headers=headers)
    # Partners see only their own offers, so another's is missing rather than forbidden:
    # the answer does not even confirm that it exists.
    assert response.status_code == 404, response.json
    assert response.content_type == PROBLEM_MIME
    for action, target in (("withdraw", offer_id), ("submit", draft_id)):
        assert client.post(f"/api/v1/offers/{target}/{action}",
                           headers=headers).status_code == 404
    assert client.get(f"/api/v1/offers/{offer_id}", headers=headers).status_code == 404
    assert fingerprint() == before
    mine = client.get("/api/v1/offers", headers=headers)
    assert mine.status_code == 200 and mine.json == []


def test_a_company_admin_cannot_list_another_organisations_people(client, app, make, other):
    world = World(app, make)
    _, intruder = other
    headers = bearer(make.token(intruder))
    for organisation in (world.company, world.agency):
        response = client.get(f"/api/v1/organisations/{organisation.id}/users",
                              headers=headers)
        assert response.status_code == 403, response.json
        assert response.content_type == PROBLEM_MIME
        assert response.json["type"].endswith("/not-your-organisation")
    own = client.get(f"/api/v1/organisations/{intruder.organisation_id}/users",
                     headers=headers)
    assert [u["id"] for u in own.json] == [str(intruder.id)]


def test_a_company_admin_cannot_touch_another_organisations_people_or_keys(client, app, make,
                                                                          other):
    world = World(app, make)
    _, intruder = other
    headers = {**bearer(make.token(intruder)), "If-Match": "*"}
    member_id, key_id = world.member.id, world.own_key(PARTNER_ADMIN)
    before = fingerprint()
    assert client.get(f"/api/v1/users/{member_id}", headers=headers).status_code == 404
    response = client.patch(f"/api/v1/users/{member_id}", json={"is_active": False},
                            headers=headers)
    assert response.status_code == 404
    assert client.delete(f"/api/v1/api-keys/{key_id}", headers=headers).status_code == 404
    response = client.post(f"/api/v1/organisations/{world.company.id}/invitations",
                           json={"email": "penyusup@uji.example", "role": "partner_admin"},
                           headers=headers)
    assert response.status_code == 403
    assert response.json["type"].endswith("/not-your-organisation")
    response = client.patch(f"/api/v1/organisations/{world.company.id}",
                            json={"sector": "Dibajak"}, headers=headers)
    assert response.status_code == 403
    assert fingerprint() == before
    keys = client.get("/api/v1/api-keys", headers=headers)
    assert keys.status_code == 200 and keys.json == []


def test_a_dp3a_admin_administers_the_agency_not_the_companies(client, app, make):
    world = World(app, make)
    headers = {**bearer(make.token(world.dp3a_admin)), "If-Match": "*"}
    member_id, company_id = world.member.id, world.company.id
    before = fingerprint()
    response = client.patch(f"/api/v1/users/{member_id}", json={"is_active": False},
                            headers=headers)
    assert response.status_code == 404
    response = client.post(f"/api/v1/organisations/{company_id}/invitations",
                           json={"email": "titipan@uji.example", "role": "partner_member"},
                           headers=headers)
    assert response.status_code == 403
    assert fingerprint() == before
    # ...but reads any organisation's people.
    users = client.get(f"/api/v1/organisations/{company_id}/users", headers=headers)
    assert {u["id"] for u in users.json} == {str(world.admin.id), str(member_id)}


def test_a_coordinator_sees_active_offers_but_no_drafts(client, app, make):
    world = World(app, make)
    headers = bearer(make.token(world.coordinator))
    active_id, draft_id = world.offer.id, world.draft.id
    assert client.get(f"/api/v1/offers/{draft_id}", headers=headers).status_code == 404
    assert client.get(f"/api/v1/offers/{draft_id}/capacity",
                      headers=headers).status_code == 404
    listed = client.get("/api/v1/offers", headers=headers)
    assert [o["id"] for o in listed.json] == [str(active_id)]


def test_a_deactivated_colleague_and_a_revoked_key_stop_signing_in(client, app, make):
    """The matrix's successful writes really do what they say."""
    world = World(app, make)
    headers = {**bearer(make.token(world.admin)), "If-Match": "*"}
    key_id, full = world.company_key
    member_email = world.member.email
    assert client.patch(f"/api/v1/users/{world.member.id}", json={"is_active": False},
                        headers=headers).status_code == 200
    assert client.delete(f"/api/v1/api-keys/{key_id}", headers=headers).status_code == 200
    response = client.post("/api/v1/auth/token", json={
        "grant_type": "password", "email": member_email, "password": PASSWORD})
    assert response.status_code == 401
    response = client.post("/api/v1/auth/token", json={"grant_type": "api_key", "api_key": full})
    assert response.status_code == 401


def test_unknown_ids_are_404_for_callers_who_pass_the_role_check(client, make):
    officer = make.user("dp3a_officer")
    headers = bearer(make.token(officer))
    missing = uuid.uuid4()
    for path in (f"/api/v1/organisations/{missing}", f"/api/v1/offers/{missing}",
                 f"/api/v1/offers/{missing}/capacity"):
        response = client.get(path, headers=headers)
        assert response.status_code == 404, path
        assert response.content_type == PROBLEM_MIME
