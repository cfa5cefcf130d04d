"""The Celery factory: tasks run inside the service's app context, JSON only, acknowledged
late, one message at a time per worker process."""
from __future__ import annotations

from typing import Any

from celery import Celery, Task
from celery import current_app as current_celery
from flask import Flask, g
from flask.signals import appcontext_pushed
from kombu.transport import TRANSPORT_ALIASES
from kombu.transport.sqlalchemy import Transport as SqlalchemyTransport

from shared.config import VAR_DIR


class Queues:
    """Every queue name, in one place (a worker is started for each)."""

    MATCHING = "matching"
    NOTIFY = "notify"
    OUTBOX = "outbox"
    PERIODIC = "periodic"
    ALL = (MATCHING, NOTIFY, OUTBOX, PERIODIC)


def broker_url(config: dict[str, Any]) -> str:
    """Redis when REDIS_URL is set; otherwise kombu's SQLAlchemy transport on a SQLite file
    of the service's own (the embedded default, no server to install)."""
    if config.get("CELERY_BROKER_URL"):
        return config["CELERY_BROKER_URL"]
    if config.get("REDIS_URL"):
        return config["REDIS_URL"]
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    return f"{EMBEDDED}+sqlite:///{VAR_DIR / ('celery-broker-' + config['SERVICE_NAME'] + '.db')}"


class EmbeddedTransport(SqlalchemyTransport):
    """kombu's SQLAlchemy transport, polling its SQLite file every 0.1 s rather than every
    second, so that a task is not a second late at each hop (event, fan-out, delivery).
    (Its `polling_interval` cannot come through the transport options: this transport hands
    them all to SQLAlchemy's create_engine.)"""

    polling_interval = 0.1


EMBEDDED = "mitra-sqla"
TRANSPORT_ALIASES[EMBEDDED] = f"{__name__}:EmbeddedTransport"


def key_prefix(config: dict[str, Any]) -> str:
    """The prefix of the service's keys on Redis: CELERY_KEY_PREFIX, then the service's name.
    Services share queue names (`outbox`, `periodic`), so each keeps its queues apart: a
    worker must never take a task that only another service knows."""
    return f"{config.get('CELERY_KEY_PREFIX') or ''}{config['SERVICE_NAME']}:"


def create_celery(app: Flask, routes: dict[str, str]) -> Celery:
    """A Celery app bound to `app`: every task body runs in `app.app_context()`.
    `routes` maps task names (globs allowed) to queue names."""

    class AppContextTask(Task):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery = Celery(app.name, task_cls=AppContextTask)
    broker = broker_url(app.config)
    celery.conf.update(
        broker_url=broker,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        task_default_queue=Queues.PERIODIC,
        task_routes={name: {"queue": queue} for name, queue in routes.items()},
        timezone="UTC",
    )
    if broker.startswith(("redis://", "rediss://")):
        # Retries use backoff far below this, so a slow task is never delivered twice.
        # The key prefix keeps the services (and several deployments or test runs) apart.
        celery.conf.broker_transport_options = {"visibility_timeout": 3600,
                                                "global_keyprefix": key_prefix(app.config)}
    celery.set_default()

    # Tasks are sent through Celery's "current app". Where several services' apps share a
    # process (tests), each app context makes its own Celery app current while it lasts, so a
    # request or task sends to its own service's queues; the previous one comes back after.
    @appcontext_pushed.connect_via(app, weak=False)
    def _make_current(sender: Flask, **kwargs: Any) -> None:
        g.mitra_previous_celery = current_celery._get_current_object()
        celery.set_current()

    @app.teardown_appcontext
    def _restore_current(exc: BaseException | None) -> None:
        previous = g.pop("mitra_previous_celery", None)
        if previous is not None:
            previous.set_current()

    app.extensions["celery"] = celery
    return celery
