"""Rate limits on sign-in, shared by all workers through Redis when it is configured."""
from __future__ import annotations

from flask import Flask, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)


def login_key() -> str:
    """Limit per client address and per account, so one attacker cannot lock everyone out."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):  # not JSON, or JSON that is not an object: validation says so
        body = {}
    # API keys are counted by their public prefix, so machine clients sharing an address
    # do not share one budget.
    who = body.get("email") or body.get("client_id") or str(body.get("api_key") or "-")[:16]
    return f"login:{get_remote_address()}:{str(who).lower()[:254]}"


def init_app(app: Flask) -> None:
    app.config.setdefault("RATELIMIT_KEY_PREFIX", "mitra-partners")
    limiter.init_app(app)
