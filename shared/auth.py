"""Bearer-token verification and the declaration of who may call each endpoint."""
from __future__ import annotations

import threading
import time
from copy import deepcopy
from functools import wraps
from typing import Any, Callable, Iterable

import jwt
from flask import Flask, current_app, g, request
from jwt.algorithms import OKPAlgorithm

from shared.audit import ANONYMOUS, Actor
from shared.errors import abort

DP3A_ROLES = frozenset({"dp3a_officer", "dp3a_admin"})
PARTNER_ROLES = frozenset({"partner_admin", "partner_member"})
ALL_USER_ROLES = DP3A_ROLES | PARTNER_ROLES | {"coordinator"}
SERVICE = "service"


class KeySource:
    """Where verification keys come from: a function returning {kid: public key}."""

    def __init__(self, load: Callable[[], dict[str, Any]], refresh_interval: float = 300) -> None:
        self._load = load
        self._keys: dict[str, Any] = {}
        self._loaded_at = float("-inf")  # never loaded: the first call loads, whatever the clock
        self._refresh_interval = refresh_interval
        self._lock = threading.Lock()

    def key(self, kid: str) -> Any:
        with self._lock:
            stale = time.monotonic() - self._loaded_at > self._refresh_interval
            if kid not in self._keys or stale:
                # An unknown kid may be a freshly rotated key: reload, at most every 5 s.
                if stale or time.monotonic() - self._loaded_at > 5:
                    self._keys = self._load()
                    self._loaded_at = time.monotonic()
            return self._keys.get(kid)


def jwks_loader(fetch_json: Callable[[], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    """Turn a JWKS document fetcher into a {kid: public key} loader."""

    def load() -> dict[str, Any]:
        return {jwk["kid"]: OKPAlgorithm.from_jwk(jwk) for jwk in fetch_json().get("keys", [])
                if jwk.get("kty") == "OKP" and "kid" in jwk}

    return load


class TokenVerifier:
    def __init__(self, keys: KeySource, issuer: str, audience: str) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims; raises jwt.InvalidTokenError when it is not valid."""
        header = jwt.get_unverified_header(token)
        key = self.keys.key(header.get("kid", ""))
        if key is None:
            raise jwt.InvalidTokenError("unknown signing key")
        return jwt.decode(token, key, algorithms=["EdDSA"], audience=self.audience,
                          issuer=self.issuer, options={"require": ["exp", "sub", "iat"]})


def actor_from_claims(claims: dict[str, Any]) -> Actor:
    return Actor(
        id=str(claims["sub"]), role=claims.get("role"), organisation_id=claims.get("org"),
        region_codes=tuple(claims.get("regions") or ()), locale=claims.get("locale", "id"),
        kind=claims.get("typ", "user"),
    )


def init_app(app: Flask, verifier: TokenVerifier) -> None:
    app.extensions["mitra_verifier"] = verifier


def current_actor() -> Actor:
    """The caller: from a valid bearer token, or anonymous. A bad token is a 401."""
    if "actor" in g:
        return g.actor
    header = request.headers.get("Authorization", "")
    if not header:
        g.actor = ANONYMOUS
        return g.actor
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        abort(401, "Use 'Authorization: Bearer <token>'.", type="unauthenticated",
              headers={"WWW-Authenticate": "Bearer"})
    try:
        claims = current_app.extensions["mitra_verifier"].verify(token.strip())
    except jwt.InvalidTokenError as exc:
        abort(401, f"The token is not valid: {exc}.", type="invalid-token",
              headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    g.actor = actor_from_claims(claims)
    return g.actor


def allow(*roles: str | Iterable[str]) -> Callable:
    """Only callers holding one of `roles` (or 'service' for service tokens) get through."""
    allowed: set[str] = set()
    for role in roles:
        allowed.update([role] if isinstance(role, str) else role)

    def decorator(func: Callable) -> Callable:
        @wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            actor = current_actor()
            if actor.kind == "anonymous":
                abort(401, "Sign in first: this needs a bearer token.", type="unauthenticated",
                      headers={"WWW-Authenticate": "Bearer"})
            granted = SERVICE if actor.is_service else actor.role
            if granted not in allowed:
                abort(403, "Your role may not do this.", type="forbidden")
            return func(*args, **kwargs)

        # Document the requirement in OpenAPI (flask-smorest reads _apidoc["manual_doc"]).
        wrapper._apidoc = deepcopy(getattr(func, "_apidoc", {}))  # type: ignore[attr-defined]
        manual = wrapper._apidoc.setdefault("manual_doc", {})  # type: ignore[attr-defined]
        manual["security"] = [{"bearerAuth": []}]
        who = ", ".join(sorted(allowed))
        manual["description"] = (manual.get("description", "") + f"\n\nAllowed: {who}.").strip()
        return wrapper

    return decorator


def public(func: Callable) -> Callable:
    """Mark an endpoint as callable without a token (documents it; checks nothing)."""
    func._apidoc = deepcopy(getattr(func, "_apidoc", {}))  # type: ignore[attr-defined]
    func._apidoc.setdefault("manual_doc", {})["security"] = []  # type: ignore[attr-defined]
    return func
