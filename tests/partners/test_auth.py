"""Sign-in and tokens: passwords, API keys, service credentials, the JWKS other services verify
with, rate limits, key rotation, and the HTTP client services call each other with."""
from __future__ import annotations

import base64
import json
import time
from datetime import timedelta
from types import SimpleNamespace

import jwt
import pytest
import requests
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import g

import shared.auth
import shared.http_client
from services.partners.models import ApiKey, User, db
from shared.auth import KeySource, TokenVerifier, jwks_loader
from shared.http_client import ServiceClient, ServiceTokenProvider
from shared.jwt_keys import KeyRing, generate_key_file
from tests.partners.conftest import (
    MUSTIKASARI,
    PASSWORD,
    SERVICE_SECRET,
    audit_entries,
    bearer,
    outbox_events,
)

PROBLEM = "application/problem+json"


def password_login(client, email, password=PASSWORD):
    return client.post("/api/v1/auth/token",
                       json={"grant_type": "password", "email": email, "password": password})


def verifier_over_http(app, base_url: str) -> TokenVerifier:
    """What another service does: fetch the JWKS from partners over HTTP and verify with it."""
    partners = ServiceClient(base_url)
    keys = KeySource(jwks_loader(lambda: partners.get_json("/.well-known/jwks.json")))
    return TokenVerifier(keys, issuer=app.config["JWT_ISSUER"],
                         audience=app.config["JWT_AUDIENCE"])


def issue(app, claims, **overrides):
    options = {"issuer": app.config["JWT_ISSUER"], "audience": app.config["JWT_AUDIENCE"],
               "lifetime": timedelta(minutes=5)}
    options.update(overrides)
    return app.extensions["mitra_keyring"].issue(claims, **options)


def assert_problem(response, status):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type == PROBLEM
    assert response.json["status"] == status
    return response.json


# --- passwords ------------------------------------------------------------------------------

def test_a_password_login_gives_a_token_other_services_verify_with_the_jwks(
        client, app, make, live_server):
    coordinator = make.user("coordinator", region_codes=[MUSTIKASARI], locale="en")
    response = password_login(client, coordinator.email.upper())  # emails are case-blind
    assert response.status_code == 200, response.json
    body = response.json
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == app.config["ACCESS_TOKEN_MINUTES"] * 60

    claims = verifier_over_http(app, live_server).verify(body["access_token"])
    assert claims["sub"] == str(coordinator.id)
    assert claims["typ"] == "user"
    assert claims["role"] == "coordinator"
    assert claims["org"] == str(coordinator.organisation_id)
    assert claims["regions"] == [MUSTIKASARI]
    assert claims["locale"] == "en"
    assert claims["iss"] == app.config["JWT_ISSUER"]
    assert claims["aud"] == app.config["JWT_AUDIENCE"]
    assert claims["exp"] - claims["iat"] == body["expires_in"]
    jwks = requests.get(f"{live_server}/.well-known/jwks.json", timeout=5).json()
    assert jwt.get_unverified_header(body["access_token"])["kid"] in [
        k["kid"] for k in jwks["keys"]]
    assert all("d" not in k for k in jwks["keys"])  # only public halves are published

    # The token works on the API, and the login was recorded.
    me = client.get("/api/v1/users/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200 and me.json["id"] == str(coordinator.id)
    assert me.json["last_login_at"] is not None


def test_a_wrong_password_and_an_unknown_email_get_the_same_401(client, make):
    user = make.user("partner_member")
    wrong = assert_problem(password_login(client, user.email, "not the password"), 401)
    unknown = assert_problem(password_login(client, "nobody@uji.example"), 401)
    assert wrong["type"].endswith("invalid-credentials")
    # Nothing tells an attacker which emails have accounts.
    assert (wrong["type"], wrong["detail"]) == (unknown["type"], unknown["detail"])
    assert "access_token" not in wrong


def test_a_deactivated_user_cannot_sign_in(client, app, make):
    user = make.user("partner_member")
    assert password_login(client, user.email).status_code == 200
    with app.app_context():
        db.session.execute(sa.update(User).where(User.id == user.id).values(is_active=False))
        db.session.commit()
    body = assert_problem(password_login(client, user.email), 401)
    assert "deactivated" in body["detail"]


@pytest.mark.parametrize("body, field", [
    ({"grant_type": "password", "email": "a@uji.example"}, "password"),
    ({"grant_type": "password", "password": PASSWORD}, "email"),
    ({"grant_type": "api_key"}, "api_key"),
    ({"grant_type": "client_credentials", "client_id": "matching"}, "client_secret"),
    ({"grant_type": "magic"}, "grant_type"),
    ({"grant_type": "password", "email": "a@uji.example", "password": PASSWORD,
      "scope": "all"}, "scope"),
])
def test_incomplete_token_requests_are_422(client, body, field):
    errors = assert_problem(client.post("/api/v1/auth/token", json=body), 422)["errors"]
    assert field in errors, errors


# --- API keys -------------------------------------------------------------------------------

def test_an_admin_creates_an_api_key_that_is_shown_once_and_traded_for_tokens(
        client, app, make):
    organisation, admin = make.organisation()
    headers = bearer(make.token(admin))
    created = client.post("/api/v1/api-keys", json={"name": "ERP sync", "role": "partner_member"},
                          headers=headers)
    assert created.status_code == 201, created.json
    key = created.json["key"]
    assert key.startswith("mk_") and created.json["prefix"] in key
    assert created.json["organisation_id"] == str(organisation.id)

    listed = client.get("/api/v1/api-keys", headers=headers)
    assert listed.status_code == 200
    assert [k["id"] for k in listed.json] == [created.json["id"]]
    assert "key" not in listed.json[0]
    assert key not in listed.get_data(as_text=True)
    with app.app_context():  # stored hashed, never in clear
        stored = db.session.get(ApiKey, created.json["id"])
        assert key not in (stored.key_hash, stored.prefix)

    token = client.post("/api/v1/auth/token", json={"grant_type": "api_key", "api_key": key})
    assert token.status_code == 200, token.json
    claims = jwt.decode(token.json["access_token"], options={"verify_signature": False})
    assert (claims["typ"], claims["role"], claims["org"], claims["sub"]) == (
        "api_key", "partner_member", str(organisation.id), created.json["id"])
    # The machine client acts for its organisation...
    own = client.get(f"/api/v1/organisations/{organisation.id}",
                     headers=bearer(token.json["access_token"]))
    assert own.status_code == 200
    # ...but has no personal profile.
    assert_problem(client.get("/api/v1/users/me", headers=bearer(token.json["access_token"])),
                   403)

    [entry] = audit_entries(app, action="api_key.created")
    assert entry.object_id == created.json["id"] and entry.actor_id == str(admin.id)
    assert key not in json.dumps(entry.after)
    assert all(key not in json.dumps(e.payload) for e in outbox_events(app))


def test_a_revoked_api_key_no_longer_gives_tokens(client, app, make):
    _, admin = make.organisation()
    headers = bearer(make.token(admin))
    created = client.post("/api/v1/api-keys", json={"name": "ERP sync", "role": "partner_admin"},
                          headers=headers).json
    trade = {"grant_type": "api_key", "api_key": created["key"]}
    assert client.post("/api/v1/auth/token", json=trade).status_code == 200

    revoked = client.delete(f"/api/v1/api-keys/{created['id']}", headers=headers)
    assert revoked.status_code == 200 and revoked.json["revoked_at"] is not None
    assert_problem(client.post("/api/v1/auth/token", json=trade), 401)
    [entry] = audit_entries(app, action="api_key.revoked", object_id=created["id"])
    assert entry.before == {"revoked_at": None} and entry.after["revoked_at"]
    listed = client.get("/api/v1/api-keys", headers=headers).json
    assert listed[0]["revoked_at"] is not None


@pytest.mark.parametrize("presented", [
    "mk_000000000000_guessed-secret", "not-a-key", "mk_", "mk_abc",
])
def test_made_up_api_keys_are_401(client, make, presented):
    _, admin = make.organisation()
    client.post("/api/v1/api-keys", json={"name": "real", "role": "partner_member"},
                headers=bearer(make.token(admin)))
    assert_problem(client.post("/api/v1/auth/token",
                               json={"grant_type": "api_key", "api_key": presented}), 401)


def test_a_key_with_the_right_prefix_but_wrong_secret_is_401(client, make):
    _, admin = make.organisation()
    key = client.post("/api/v1/api-keys", json={"name": "real", "role": "partner_member"},
                      headers=bearer(make.token(admin))).json["key"]
    forged = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    assert_problem(client.post("/api/v1/auth/token",
                               json={"grant_type": "api_key", "api_key": forged}), 401)


def test_only_admins_create_keys_and_only_with_their_own_kind_of_role(client, app, make):
    organisation, admin = make.organisation()
    member = make.user("partner_member", organisation)
    officer = make.user("dp3a_officer")
    dp3a_admin = make.user("dp3a_admin")
    body = {"name": "ERP sync", "role": "partner_member"}
    assert_problem(client.post("/api/v1/api-keys", json=body,
                               headers=bearer(make.token(member))), 403)
    assert_problem(client.post("/api/v1/api-keys", json=body,
                               headers=bearer(make.token(officer))), 403)
    assert_problem(client.post("/api/v1/api-keys", json=body), 401)
    for role in ("dp3a_admin", "dp3a_officer", "coordinator"):
        errors = assert_problem(client.post(
            "/api/v1/api-keys", json={"name": "x" * 5, "role": role},
            headers=bearer(make.token(admin))), 422)["errors"]
        assert "role" in errors
    for role in ("partner_admin", "partner_member", "coordinator"):
        errors = assert_problem(client.post(
            "/api/v1/api-keys", json={"name": "x" * 5, "role": role},
            headers=bearer(make.token(dp3a_admin))), 422)["errors"]
        assert "role" in errors
    assert_problem(client.post("/api/v1/api-keys", json={"name": "x" * 5, "role": "superuser"},
                               headers=bearer(make.token(admin))), 422)
    agency_key = client.post("/api/v1/api-keys", json={"name": "BI", "role": "dp3a_officer"},
                             headers=bearer(make.token(dp3a_admin)))
    assert agency_key.status_code == 201
    with app.app_context():
        assert [k.role for k in db.session.scalars(sa.select(ApiKey))] == ["dp3a_officer"]
    assert len(audit_entries(app, action="api_key.created")) == 1


def test_an_admin_cannot_see_or_revoke_another_organisations_keys(client, make):
    _, admin = make.organisation()
    _, other_admin = make.organisation()
    created = client.post("/api/v1/api-keys", json={"name": "ERP", "role": "partner_member"},
                          headers=bearer(make.token(admin))).json
    other = bearer(make.token(other_admin))
    assert client.get("/api/v1/api-keys", headers=other).json == []
    assert_problem(client.delete(f"/api/v1/api-keys/{created['id']}", headers=other), 404)
    assert client.post("/api/v1/auth/token", json={"grant_type": "api_key",
                                                   "api_key": created["key"]}).status_code == 200


# --- service clients ------------------------------------------------------------------------

def test_service_credentials_give_a_service_token(client, app):
    response = client.post("/api/v1/auth/token", json={
        "grant_type": "client_credentials", "client_id": "matching",
        "client_secret": SERVICE_SECRET})
    assert response.status_code == 200, response.json
    assert response.json["expires_in"] == app.config["SERVICE_TOKEN_MINUTES"] * 60
    claims = app.extensions["mitra_verifier"].verify(response.json["access_token"])
    assert (claims["sub"], claims["typ"], claims["role"]) == (
        "service:matching", "service", "service")
    assert "org" not in claims


@pytest.mark.parametrize("client_id, secret", [
    ("matching", "wrong-secret"), ("matching", SERVICE_SECRET + "x"), ("notify", SERVICE_SECRET),
])
def test_wrong_service_credentials_are_401(client, client_id, secret):
    assert_problem(client.post("/api/v1/auth/token", json={
        "grant_type": "client_credentials", "client_id": client_id,
        "client_secret": secret}), 401)


# --- rate limit -----------------------------------------------------------------------------

def test_the_21st_login_attempt_for_one_email_in_a_minute_is_429(client, make):
    target = make.user("partner_admin")
    bystander = make.user("partner_member")
    assert client.application.config["LOGIN_RATE_LIMIT"] == "20 per minute"
    for attempt in range(20):
        response = password_login(client, target.email, f"guess number {attempt}")
        assert response.status_code == 401, (attempt, response.json)
    # Even the right password is refused now: guessing cannot continue.
    limited = password_login(client, target.email)
    body = assert_problem(limited, 429)
    assert body["type"].endswith("rate-limited")
    assert int(limited.headers["Retry-After"]) > 0
    assert "access_token" not in body
    # The limit is per account: another person signs in from the same address.
    assert password_login(client, bystander.email).status_code == 200
    # Writing the email differently does not get around it.
    assert password_login(client, target.email.upper()).status_code == 429


# --- key rotation ---------------------------------------------------------------------------

def test_after_rotation_old_tokens_still_verify_and_new_ones_use_the_new_key(
        tmp_path, monkeypatch):
    folder = tmp_path / "keys"
    old_ring = KeyRing(folder, create_if_empty=True)
    old_kid = old_ring.active.kid
    claims = {"sub": "u-1", "role": "partner_admin"}
    options = {"issuer": "mitra-partners", "audience": "mitra", "lifetime": timedelta(minutes=5)}
    old_token = old_ring.issue(claims, **options)

    published = {"ring": old_ring}  # what the JWKS endpoint serves right now
    clock = {"now": 1000.0}
    monkeypatch.setattr(shared.auth, "time", SimpleNamespace(monotonic=lambda: clock["now"]))
    verifier = TokenVerifier(KeySource(jwks_loader(lambda: published["ring"].jwks())),
                             issuer="mitra-partners", audience="mitra")
    assert verifier.verify(old_token)["sub"] == "u-1"

    generate_key_file(folder)
    new_ring = KeyRing(folder, create_if_empty=False)
    published["ring"] = new_ring
    new_kid = new_ring.active.kid
    assert new_kid != old_kid
    assert [k["kid"] for k in new_ring.jwks()["keys"]] == [old_kid, new_kid]
    new_token = new_ring.issue(claims, **options)
    assert jwt.get_unverified_header(new_token)["kid"] == new_kid
    assert jwt.get_unverified_header(new_ring.issue(claims, **options))["kid"] == new_kid

    # A verifier that cached the old JWKS picks up the new key once its short back-off passed.
    clock["now"] += 6
    assert verifier.verify(new_token)["sub"] == "u-1"
    assert verifier.verify(old_token)["sub"] == "u-1"
    # The new ring verifies tokens made before the rotation too.
    assert TokenVerifier(KeySource(new_ring.public_keys), "mitra-partners", "mitra").verify(
        old_token)["sub"] == "u-1"

    # A token from a key that was never published is refused.
    stranger = KeyRing(tmp_path / "elsewhere", create_if_empty=True).issue(claims, **options)
    with pytest.raises(jwt.InvalidTokenError):
        verifier.verify(stranger)


def test_a_verifier_loads_the_keys_on_first_use_whatever_the_clock_says(monkeypatch, tmp_path):
    ring = KeyRing(tmp_path, create_if_empty=True)
    token = ring.issue({"sub": "u-1"}, issuer="i", audience="a", lifetime=timedelta(minutes=5))
    # time.monotonic() may start near zero (e.g. a freshly booted VM or container).
    monkeypatch.setattr(shared.auth, "time", SimpleNamespace(monotonic=lambda: 1.0))
    verifier = TokenVerifier(KeySource(ring.public_keys), issuer="i", audience="a")
    assert verifier.verify(token)["sub"] == "u-1"


# --- bad tokens -----------------------------------------------------------------------------

def _forged_with_our_kid(app, claims):
    kid = app.extensions["mitra_keyring"].active.kid
    return jwt.encode({**claims, "iss": app.config["JWT_ISSUER"],
                       "aud": app.config["JWT_AUDIENCE"], "iat": 1, "exp": 4102444800},
                      Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": kid})


def _handmade(header, claims, signature=""):
    """A token assembled by hand, for headers no JWT library would write."""
    def part(data):
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    return f"{part(header)}.{part(claims)}.{signature}"


@pytest.mark.parametrize("case", [
    "wrong audience", "wrong issuer", "expired", "garbage", "forged signature", "unsigned",
    "list kid", "no subject",
])
def test_bad_tokens_are_401_on_a_protected_endpoint(client, app, make, case):
    user = make.user("partner_admin")
    claims = {"sub": str(user.id), "typ": "user", "role": "partner_admin",
              "org": str(user.organisation_id)}
    our_kid = app.extensions["mitra_keyring"].active.kid
    full_claims = {**claims, "iss": app.config["JWT_ISSUER"], "aud": app.config["JWT_AUDIENCE"],
                   "iat": 1, "exp": 4102444800}
    token = {
        "wrong audience": lambda: issue(app, claims, audience="someone-else"),
        "wrong issuer": lambda: issue(app, claims, issuer="https://evil.example"),
        "expired": lambda: issue(app, claims, lifetime=timedelta(seconds=-1)),
        "garbage": lambda: "not.a.jwt",
        "forged signature": lambda: _forged_with_our_kid(app, claims),
        "unsigned": lambda: _handmade({"alg": "none", "kid": our_kid}, full_claims),
        "list kid": lambda: _handmade({"alg": "EdDSA", "kid": ["x"]}, full_claims, "c2ln"),
        "no subject": lambda: issue(app, {k: v for k, v in claims.items() if k != "sub"}),
    }[case]()
    response = client.get("/api/v1/users/me", headers=bearer(token))
    body = assert_problem(response, 401)
    assert body["type"].endswith("invalid-token")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    # The same user with a good token gets in.
    assert client.get("/api/v1/users/me", headers=bearer(make.token(user))).status_code == 200


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer    ", "Token abc"])
def test_a_malformed_authorization_header_is_401(client, header):
    response = client.get("/api/v1/users/me", headers={"Authorization": header})
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_no_token_at_all_is_401(client):
    response = client.get("/api/v1/users/me")
    assert assert_problem(response, 401)["type"].endswith("unauthenticated")


# --- calling partners from another service --------------------------------------------------

def test_the_service_client_forwards_the_request_id(app, make, live_server):
    partners = ServiceClient(live_server)
    with app.test_request_context():
        g.request_id = "req-from-matching-42"
        response = partners.request("GET", "/healthz")
    assert response.headers["X-Request-ID"] == "req-from-matching-42"
    outside = partners.request("GET", "/healthz")  # no request being served: a fresh id
    assert outside.headers["X-Request-ID"] not in ("", "req-from-matching-42")

    # The id reaches the audit log of the service that was called.
    _, admin = make.organisation()
    token = make.token(admin)
    with app.test_request_context():
        g.request_id = "req-create-key-7"
        created = ServiceClient(live_server, token=lambda: token).request(
            "POST", "/api/v1/api-keys", json={"name": "ERP", "role": "partner_member"})
    assert created.status_code == 201, created.text
    [entry] = audit_entries(app, action="api_key.created")
    assert entry.request_id == "req-create-key-7"


def test_the_service_token_provider_fetches_once_and_reuses_the_token(
        app, make, live_server, monkeypatch):
    organisation, _ = make.organisation()
    provider = ServiceTokenProvider(ServiceClient(live_server), "matching", SERVICE_SECRET)
    first = provider()
    assert provider() == first  # every issued token has its own jti: same string = cached
    claims = app.extensions["mitra_verifier"].verify(first)
    assert (claims["typ"], claims["sub"]) == ("service", "service:matching")

    partners = ServiceClient(live_server, token=provider)
    response = partners.request("GET", f"/api/v1/organisations/{organisation.id}/users")
    assert response.status_code == 200, response.text
    assert len(response.json()) == 1

    # Shortly before it expires, a new one is fetched.
    lifetime = app.config["SERVICE_TOKEN_MINUTES"] * 60
    real = time.monotonic
    monkeypatch.setattr(shared.http_client, "time",
                        SimpleNamespace(monotonic=lambda: real() + lifetime - 10))
    renewed = provider()
    assert renewed != first
    assert app.extensions["mitra_verifier"].verify(renewed)["typ"] == "service"


def test_the_service_token_provider_reports_wrong_credentials(live_server):
    provider = ServiceTokenProvider(ServiceClient(live_server), "matching", "wrong-secret")
    with pytest.raises(requests.HTTPError) as raised:
        provider()
    assert raised.value.response.status_code == 401


def test_an_unreachable_service_raises_service_unavailable():
    # Port 9 (discard) on localhost: nothing listens, the connection is refused at once.
    partners = ServiceClient("http://127.0.0.1:9", retries=0, timeout=2)
    with pytest.raises(shared.http_client.ServiceUnavailable):
        partners.request("GET", "/healthz")
