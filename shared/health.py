"""/healthz (the process answers) and /readyz (its database and broker answer)."""
from __future__ import annotations

from typing import Callable

import sqlalchemy as sa
from flask import Blueprint, Flask, current_app, jsonify

from shared.db import current_db


def _database_ok() -> str | None:
    try:
        with current_db().engine.connect() as connection:  # type: ignore[union-attr]
            connection.execute(sa.text("SELECT 1"))
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        return f"database: {exc.__class__.__name__}"


def _broker_ok() -> str | None:
    url = current_app.config.get("REDIS_URL")
    if not url:
        return None  # embedded default: the broker is the database checked above
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping()
        return None
    except Exception as exc:  # noqa: BLE001
        return f"broker: {exc.__class__.__name__}"


CHECKS: list[Callable[[], str | None]] = [_database_ok, _broker_ok]


def init_app(app: Flask) -> None:
    health = Blueprint("health", __name__)

    @health.get("/healthz")
    def healthz():  # type: ignore[no-untyped-def]
        return jsonify(status="ok", service=app.config["SERVICE_NAME"])

    @health.get("/readyz")
    def readyz():  # type: ignore[no-untyped-def]
        problems = [p for p in (check() for check in CHECKS) if p]
        if problems:
            return jsonify(status="unavailable", problems=problems), 503
        return jsonify(status="ready", service=app.config["SERVICE_NAME"])

    app.register_blueprint(health)
