"""The notify service: events in; email, signed webhooks, in-app and Apprise messages out."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from flask import Flask

from services.notify import config as notify_config
from services.notify.models import db
from shared.api import create_service_app
from shared.auth import KeySource, TokenVerifier, jwks_loader
from shared.celery import create_celery
from shared.http_client import ServiceClient
from shared.migrations import upgrade

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    """The notify app; `overrides` replace settings read from the environment."""
    config = notify_config.load()
    config.update(overrides or {})
    jwks = ServiceClient(config["PARTNERS_URL"], timeout=5)
    verifier = TokenVerifier(KeySource(jwks_loader(lambda: jwks.get_json(
        "/.well-known/jwks.json"))), config["JWT_ISSUER"], config["JWT_AUDIENCE"])
    app, api = create_service_app(config, db, verifier)

    from services.notify import api as notify_api
    from services.notify import tasks

    celery = create_celery(app, tasks.ROUTES)
    celery.conf.task_annotations = {
        tasks.DELIVER[channel]: {"rate_limit": f"{per_second}/s"}
        for channel, per_second in app.config["CHANNEL_RATE_LIMITS"].items()
        if channel in tasks.DELIVER}
    celery.conf.beat_schedule = {
        "sweep-stuck": {"task": "notify.sweep_stuck",
                        "schedule": max(5, app.config["DELIVERY_STUCK_AFTER_S"] // 2)},
    }
    notify_api.register(api)

    @app.cli.command("migrate")
    def migrate() -> None:
        """Bring the database schema up to date (templates included)."""
        upgrade(MIGRATIONS, app.config["DATABASE_URL"])
        click.echo("notify: database is up to date")

    @app.cli.command("seed-demo")
    def seed_demo() -> None:
        """Nothing to seed: the directory fills from partners' events."""
        click.echo("notify: recipients arrive through partners' events")

    return app
