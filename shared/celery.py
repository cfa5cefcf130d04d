"""The Celery factory: tasks run inside the service's app context, JSON only, acknowledged
late, one message at a time per worker process."""
from __future__ import annotations

from typing import Any

from celery import Celery, Task
from flask import Flask

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
    (the embedded default, no server to install)."""
    if config.get("CELERY_BROKER_URL"):
        return config["CELERY_BROKER_URL"]
    if config.get("REDIS_URL"):
        return config["REDIS_URL"]
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    return f"sqla+sqlite:///{VAR_DIR / 'celery-broker.db'}"


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
        celery.conf.broker_transport_options = {"visibility_timeout": 3600}
    if app.config.get("CELERY_KEY_PREFIX"):
        # Keeps several deployments (or test runs) apart on one Redis.
        celery.conf.broker_transport_options["global_keyprefix"] = app.config["CELERY_KEY_PREFIX"]
    celery.set_default()
    app.extensions["celery"] = celery
    return celery
