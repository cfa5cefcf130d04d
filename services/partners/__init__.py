"""The partners service: organisations, people, offers, capacity, and identity (tokens)."""
from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import click
from flask import Flask
from sqlalchemy.orm.exc import StaleDataError

from services.partners import config as partners_config
from services.partners import ratelimit
from services.partners.models import db
from services.partners.security import configure_password_hashing
from shared import outbox_relay
from shared.api import create_service_app
from shared.auth import KeySource, TokenVerifier
from shared.celery import create_celery
from shared.clock import today_wib
from shared.errors import problem_response
from shared.jwt_keys import KeyRing
from shared.migrations import upgrade

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Our own service token's claims: those of a client_credentials token (accounts.py).
SELF_CLAIMS = {"sub": "service:partners", "typ": "service", "role": "service"}


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    """The partners app; `overrides` replace settings read from the environment."""
    config = partners_config.load()
    config.update(overrides or {})
    keyring = KeyRing(Path(config["JWT_KEYS_DIR"]),
                      create_if_empty=config["JWT_CREATE_KEY_IF_MISSING"])
    # As the identity provider we verify with our own keys; no HTTP round trip to ourselves.
    verifier = TokenVerifier(KeySource(keyring.public_keys), config["JWT_ISSUER"],
                             config["JWT_AUDIENCE"])
    app, api = create_service_app(config, db, verifier)
    app.extensions["mitra_keyring"] = keyring
    configure_password_hashing(config["PASSWORD_HASH_TIME_COST"],
                               config["PASSWORD_HASH_MEMORY_KIB"])
    ratelimit.init_app(app)

    from services.partners import api as partners_api
    from services.partners import tasks
    from services.partners.api.offers import OFFERS_LIST

    celery = create_celery(app, tasks.ROUTES)
    celery.conf.beat_schedule = {
        **outbox_relay.beat_schedule("partners.relay_outbox", app.config),
        "warn-expiring-offers": {"task": "partners.warn_expiring_offers", "schedule": 3600},
        "expire-offers": {"task": "partners.expire_offers", "schedule": 3600},
    }
    outbox_relay.init_app(app, db, "partners.relay_outbox", SelfIssuedToken(app, keyring))

    partners_api.register(api)
    OFFERS_LIST.init_app(app, db.session_factory)

    @app.errorhandler(StaleDataError)
    def _stale(error: StaleDataError):  # type: ignore[no-untyped-def]
        return problem_response(409, "Conflict", "Someone changed this at the same moment; "
                                "reload and try again.", "stale-version")

    _register_cli(app)
    return app


class SelfIssuedToken:
    """Our own service token for calls to notify: as the identity provider we sign it with our
    keys (the claims of a client_credentials token), reused until shortly before it expires."""

    def __init__(self, app: Flask, keyring: KeyRing) -> None:
        self.keyring = keyring
        self.issuer = app.config["JWT_ISSUER"]
        self.audience = app.config["JWT_AUDIENCE"]
        self.lifetime = timedelta(minutes=app.config["SERVICE_TOKEN_MINUTES"])
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> str:
        with self._lock:
            if self._token is None or time.monotonic() > self._expires_at - 30:
                self._token = self.keyring.issue(SELF_CLAIMS, issuer=self.issuer,
                                                 audience=self.audience, lifetime=self.lifetime)
                self._expires_at = time.monotonic() + self.lifetime.total_seconds()
            return self._token


def _register_cli(app: Flask) -> None:
    @app.cli.command("migrate")
    def migrate() -> None:
        """Bring the database schema up to date."""
        upgrade(MIGRATIONS, app.config["DATABASE_URL"])
        click.echo("partners: database is up to date")

    @app.cli.command("seed-demo")
    def seed_demo() -> None:
        """Load the Kota Bekasi demo (idempotent) and print its logins."""
        from services.partners.seed import seed

        for line in seed(db.session):
            click.echo(line)

    @app.cli.command("expire-offers")
    def expire_offers() -> None:
        """Mark offers whose window has ended as expired."""
        from services.partners.operations.offers import expire_ended
        from shared.audit import Actor

        count = expire_ended(db.session, Actor(id="system", role="system", kind="service"),
                             today_wib())
        db.session.commit()
        click.echo(f"partners: {count} offers expired")
