"""Who is signed in, and the decorators that guard pages.

The session (a signed, HTTP-only cookie) holds the access token partners issued and a copy
of the person's profile; the portal keeps nothing else. Every API checks the token again."""
from __future__ import annotations

import time
from dataclasses import dataclass
from functools import wraps
from typing import Any, Callable

from flask import abort, flash, g, redirect, request, session, url_for
from flask_babel import gettext as _

from services.portal.clients import partners

PARTNER_ROLES = frozenset({"partner_admin", "partner_member"})
DP3A_ROLES = frozenset({"dp3a_officer", "dp3a_admin"})
COORDINATOR = "coordinator"
ALL_ROLES = PARTNER_ROLES | DP3A_ROLES | {COORDINATOR}


@dataclass(frozen=True)
class User:
    """The signed-in person, as partners described them at sign-in."""

    id: str
    name: str
    email: str
    role: str
    organisation_id: str
    region_codes: tuple[str, ...]
    locale: str

    @property
    def is_partner(self) -> bool:
        return self.role in PARTNER_ROLES

    @property
    def is_dp3a(self) -> bool:
        return self.role in DP3A_ROLES

    @property
    def is_coordinator(self) -> bool:
        return self.role == COORDINATOR

    @property
    def is_admin(self) -> bool:
        return self.role in ("partner_admin", "dp3a_admin")


def sign_in(email: str, password: str) -> User:
    """Trade the password for a token at partners and remember both in the session.
    Raises ApiError (401 wrong password, 422, 429) or ServiceDown."""
    token = partners().post("/api/v1/auth/token", {
        "grant_type": "password", "email": email, "password": password}, token=None).data
    me = partners().get("/api/v1/users/me", token=token["access_token"]).data
    language = session.get("lang")
    session.clear()
    session.permanent = True
    if language:
        session["lang"] = language
    session["token"] = token["access_token"]
    # A little before the token really expires, so no page is half-built with a dead token.
    session["expires_at"] = time.time() + int(token["expires_in"]) - 30
    session["user"] = {key: me.get(key) for key in ("id", "name", "email", "role",
                                                     "organisation_id", "region_codes",
                                                     "locale")}
    g.pop("user", None)
    return current_user()  # type: ignore[return-value]


def sign_out() -> None:
    """Forget the token; the chosen language stays."""
    language = session.get("lang")
    session.clear()
    if language:
        session["lang"] = language
    g.pop("user", None)


def current_user() -> User | None:
    """The signed-in person, or None (also when the token has expired)."""
    if "user" in g:
        return g.user
    user = None
    raw = session.get("user")
    if raw and session.get("token") and session.get("expires_at", 0) > time.time():
        user = User(id=raw["id"], name=raw.get("name") or "", email=raw.get("email") or "",
                    role=raw["role"], organisation_id=raw.get("organisation_id") or "",
                    region_codes=tuple(raw.get("region_codes") or ()),
                    locale=raw.get("locale") or "id")
    g.user = user
    return user


def _to_sign_in() -> Any:
    if session.get("user"):
        flash(_("Your session has ended. Please sign in again."), "info")
        sign_out()
    return redirect(url_for("account.sign_in", next=request.full_path.rstrip("?")))


def login_required(view: Callable) -> Callable:
    """Only signed-in people; others go to the sign-in page and come back afterwards."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if current_user() is None:
            return _to_sign_in()
        return view(*args, **kwargs)

    return wrapper


def roles_required(*roles: str | frozenset[str]) -> Callable:
    """Only signed-in people holding one of `roles` (names or sets such as PARTNER_ROLES);
    anyone else signed in gets the 403 page."""
    allowed: set[str] = set()
    for role in roles:
        allowed.update([role] if isinstance(role, str) else role)

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            if user is None:
                return _to_sign_in()
            if user.role not in allowed:
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorator
