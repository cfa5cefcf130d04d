"""The matching service: programmes, needs, match runs, proposals, approvals and reports."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from flask import Flask
from sqlalchemy.orm.exc import StaleDataError

from services.matching import clients
from services.matching import config as matching_config
from services.matching.models import db
from shared import outbox_relay
from shared.api import create_service_app
from shared.auth import KeySource, TokenVerifier, jwks_loader
from shared.celery import create_celery
from shared.errors import problem_response
from shared.http_client import ServiceClient
from shared.migrations import upgrade

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    """The matching app; `overrides` replace settings read from the environment."""
    config = matching_config.load()
    config.update(overrides or {})
    # Tokens are verified with the identity provider's published keys (fetched lazily).
    jwks = ServiceClient(config["PARTNERS_URL"], timeout=5)
    verifier = TokenVerifier(KeySource(jwks_loader(lambda: jwks.get_json(
        "/.well-known/jwks.json"))), config["JWT_ISSUER"], config["JWT_AUDIENCE"])
    app, api = create_service_app(config, db, verifier)
    clients.init_app(app)
    from services.matching import api as matching_api
    from services.matching import tasks

    celery = create_celery(app, tasks.ROUTES)
    celery.conf.beat_schedule = {
        "reconcile-reservations": {"task": "matching.reconcile_reservations",
                                   "schedule": app.config["RECONCILE_EVERY_S"]},
        "request-feedback": {"task": "matching.request_feedback", "schedule": 3600},
        **outbox_relay.beat_schedule("matching.relay_outbox", app.config),
    }
    # Events go to notify with the same service token we use at partners.
    outbox_relay.init_app(app, db, "matching.relay_outbox", clients.partners_of(app).http.token)

    matching_api.register(api)

    @app.errorhandler(StaleDataError)
    def _stale(error: StaleDataError):  # type: ignore[no-untyped-def]
        return problem_response(409, "Conflict", "Someone changed this at the same moment; "
                                "reload and try again.", "stale-version")

    @app.cli.command("migrate")
    def migrate() -> None:
        """Bring the database schema up to date."""
        upgrade(MIGRATIONS, app.config["DATABASE_URL"])
        click.echo("matching: database is up to date")

    @app.cli.command("seed-demo")
    def seed_demo() -> None:
        """Load the Kota Bekasi demo programme and needs (idempotent)."""
        from services.matching.seed import seed

        for line in seed(db.session):
            click.echo(line)

    return app
