"""Test fixtures: a real PostgreSQL database per test session (migrated from empty), real
Redis, and factories for the things tests need."""
from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import redis
import sqlalchemy as sa
from celery.contrib.testing.worker import start_worker, test_worker_started
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from services.partners import MIGRATIONS, create_app
from services.partners.api.offers import OFFERS_LIST
from services.partners.models import db
from shared.migrations import upgrade

PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RUN_ID = f"{os.getpid()}"
SERVICE_SECRET = "matching-test-secret"
KEEP_TABLES = {"topics", "alembic_version"}
CELERY_KEY_PREFIX = f"mitra-test-{RUN_ID}:"


def _quiet_port() -> int:
    """A free port below the kernel's ephemeral range (32768 and up), so that no outgoing
    connection takes it while the server meant for it is stopped."""
    start = 20000 + os.getpid() % 10000
    for port in range(start, start + 2000):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port for notify's test server")


@test_worker_started.connect
def _each_worker_runs_its_own_services_tasks(sender: Any, **kwargs: Any) -> None:
    """Several services' Celery workers run as threads of this one process. A test worker
    looks a task up in Celery's "current app" (not in its own), which by default is the
    last one started: so each worker thread makes its own app current as it starts."""
    sender.set_current()


# Notify's test server listens here when a test runs it (tests/notify/test_relay.py); the
# outbox relays of partners and matching post to it, and find it closed the rest of the time.
NOTIFY_URL = f"http://127.0.0.1:{_quiet_port()}"


def _admin_connection() -> psycopg.Connection:
    return psycopg.connect(PG_ADMIN_URL, autocommit=True)


@pytest.fixture(scope="session")
def make_database() -> Iterator:
    """Create empty PostgreSQL databases for this run; drop them at the end."""
    created: list[str] = []

    def make(name: str) -> str:
        database = f"mitra_test_{name}_{RUN_ID}"
        with _admin_connection() as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            connection.execute(f'CREATE DATABASE "{database}"')
        created.append(database)
        return f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}"

    yield make
    with _admin_connection() as connection:
        for database in created:
            connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_client() -> redis.Redis:
    client = redis.Redis.from_url(REDIS_URL)
    client.ping()
    return client


# --- the partners service, used by the partners tests and by every cross-service test -------
# Defined once here: a fixture imported into two conftest files would be two fixtures, and the
# app (with its engine) would be built twice.

@pytest.fixture(scope="session")
def partners_db_url(make_database) -> str:
    url = make_database("partners")
    upgrade(MIGRATIONS, url)
    return url


@pytest.fixture(scope="session")
def seeded_topics(partners_db_url: str) -> list[str]:
    engine = sa.create_engine(partners_db_url)
    with engine.connect() as connection:
        codes = list(connection.scalars(sa.text("SELECT code FROM topics")))
    engine.dispose()
    return codes


@pytest.fixture(scope="session")
def app(partners_db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    yield create_app({
        "DATABASE_URL": partners_db_url,
        "JWT_KEYS_DIR": tmp_path_factory.mktemp("keys"),
        "RATELIMIT_STORAGE_URI": REDIS_URL,
        "RATELIMIT_KEY_PREFIX": f"mitra-test-{RUN_ID}",
        "LOGIN_RATE_LIMIT": "20 per minute",
        "SERVICE_CLIENTS": {"matching": SERVICE_SECRET},
        "PASSWORD_HASH_TIME_COST": 1,
        "PASSWORD_HASH_MEMORY_KIB": 1024,
        "ACCESS_LOG": False,
        "TESTING": True,
        "REDIS_URL": REDIS_URL, "CELERY_KEY_PREFIX": CELERY_KEY_PREFIX,
        "NOTIFY_URL": NOTIFY_URL, "OUTBOX_SWEEP_S": 1,
    })
    # Every service's Celery keys of this run (the apps' workers have stopped by now).
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{CELERY_KEY_PREFIX}*"):
        client.delete(key)
    client.close()


@pytest.fixture
def clean_partners(app: Flask, redis_client, seeded_topics: list[str]) -> Iterator[None]:
    """After the test: the migrated, empty partners database again (the topic vocabulary
    kept) and no rate-limit counters."""
    yield
    with db.engine.begin() as connection:
        # DELETE in reverse dependency order: on tables this small, far faster than TRUNCATE.
        for table in reversed(db.metadata.sorted_tables):
            if table.name not in KEEP_TABLES:
                connection.execute(table.delete())
        connection.execute(sa.text("DELETE FROM topics WHERE NOT (code = ANY(:codes))"),
                           {"codes": seeded_topics})
        connection.execute(sa.text("UPDATE topics SET is_active = true"))
    OFFERS_LIST.invalidate(app)  # the deletes above went around the app's sessions
    for key in redis_client.scan_iter(f"LIMITS:*mitra-test-{RUN_ID}/*"):
        redis_client.delete(key)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def ctx(app: Flask) -> Iterator[None]:
    with app.app_context():
        yield


@pytest.fixture(scope="session")
def live_server(app: Flask) -> Iterator[str]:
    """The partners app on a real threaded HTTP server, for tests that cross processes."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def make(app: Flask):
    from tests.partners.conftest import Factory

    return Factory(app)


# --- the matching service, used by the matching tests and by notify's relay tests -------------

@pytest.fixture(scope="session")
def matching_db_url(make_database) -> str:
    from services.matching import MIGRATIONS as MATCHING_MIGRATIONS

    url = make_database("matching")
    upgrade(MATCHING_MIGRATIONS, url)
    return url


@pytest.fixture(scope="session")
def matching_app(live_server: str, matching_db_url: str) -> Flask:
    from services.matching import create_app as create_matching_app
    from tests.matching.conftest import matching_config

    return create_matching_app(matching_config(live_server, matching_db_url))


@pytest.fixture(scope="session")
def celery_worker(matching_app: Flask) -> Iterator[Any]:
    """A real Celery worker (in a thread) consuming the matching queues from Redis. Its
    outbox relay's queue only while notify's relay tests run (tests/notify/test_relay.py):
    elsewhere nothing relays, and the outbox rows stay as the test left them.

    Worker threads of different services in one process must not share kombu's event loop
    (one per process: a worker would take another's messages and run them in the wrong
    service). Notify's worker runs on it; the others poll with Celery's blocking loop
    (use_eventloop=False)."""
    celery = matching_app.extensions["celery"]
    with start_worker(celery, pool="solo", concurrency=1, perform_ping_check=False,
                      queues=["matching", "periodic"], loglevel="WARNING",
                      shutdown_timeout=30, use_eventloop=False) as worker:
        yield worker



@pytest.fixture
def clean_matching(matching_app: Flask, clean_partners: None) -> Iterator[None]:
    """After the test: empty matching and partners databases."""
    from services.matching.models import db as matching_db

    yield
    with matching_db.engine.begin() as connection:
        for table in reversed(matching_db.metadata.sorted_tables):
            if table.name != "alembic_version":
                connection.execute(table.delete())


@pytest.fixture
def mclient(matching_app: Flask) -> FlaskClient:
    return matching_app.test_client()


@pytest.fixture
def world(make, mclient: FlaskClient, celery_worker, clean_matching):
    from tests.matching.conftest import World

    return World(make, mclient)




# --- the notify service and the outbox relays, used by notify's tests and the portal's -------

@pytest.fixture(scope="session")
def smtp_server() -> Iterator[tuple[Any, int]]:
    """A real SMTP server (aiosmtpd) that keeps every message."""
    from aiosmtpd.controller import Controller

    from tests.notify.conftest import SmtpInbox, free_port

    # aiosmtpd logs every SMTP command at INFO; the Celery worker threads would print them.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    inbox = SmtpInbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture(scope="session")
def notify_db_url(make_database) -> str:
    from services.notify import MIGRATIONS as NOTIFY_MIGRATIONS

    url = make_database("notify")
    upgrade(NOTIFY_MIGRATIONS, url)
    return url


@pytest.fixture(scope="session")
def notify_app(live_server: str, notify_db_url: str, smtp_server) -> Flask:
    from services.notify import create_app as create_notify_app
    from tests.notify.conftest import notify_config

    return create_notify_app(notify_config(live_server, notify_db_url, smtp_server[1]))


@pytest.fixture(scope="session")
def notify_worker(notify_app: Flask) -> Iterator[Any]:
    """A real Celery worker (in a thread) consuming the notify queues from Redis."""
    from services.notify import tasks as notify_tasks

    celery = notify_app.extensions["celery"]
    with start_worker(celery, pool="solo", concurrency=1, perform_ping_check=False,
                      queues=["notify", "periodic"], loglevel="WARNING",
                      shutdown_timeout=30) as worker:
        yield worker
    notify_tasks.close_smtp()  # the worker thread's SMTP connection, before the server stops


@pytest.fixture(scope="session")
def partners_worker(app: Flask) -> Iterator[Any]:
    """A real Celery worker (in a thread) for partners' outbox queue on Redis (polling on its
    own, like the matching worker above)."""
    with start_worker(app.extensions["celery"], pool="solo", concurrency=1,
                      perform_ping_check=False, queues=["outbox"], loglevel="WARNING",
                      shutdown_timeout=30, use_eventloop=False) as worker:
        yield worker


class NotifyServer:
    """The notify app on a real threaded HTTP server at NOTIFY_URL, where partners' and
    matching's relays post; a test stops and starts it."""

    def __init__(self, app: Flask) -> None:
        from urllib.parse import urlsplit

        self.app = app
        self.port = urlsplit(NOTIFY_URL).port
        self.server: Any = None
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        self.server = make_server("127.0.0.1", self.port, self.app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.thread.join()
            self.server = None


def consume_outbox(service: Flask, worker: Any, on: bool) -> None:
    """Have the service's worker start (from an empty queue) or stop consuming its `outbox`
    queue, through Celery's remote control; waits for the worker's answer."""
    from shared.celery import Queues

    celery = service.extensions["celery"]
    if on:
        with celery.connection_for_write() as connection:
            connection.default_channel.queue_purge(Queues.OUTBOX)
    command = celery.control.add_consumer if on else celery.control.cancel_consumer
    replies = command(Queues.OUTBOX, destination=[worker.hostname], reply=True, timeout=10)
    assert replies, f"the {service.name} worker did not answer"
