"""Test fixtures: a real PostgreSQL database per test session (migrated from empty), real
Redis, and factories for the things tests need."""
from __future__ import annotations

import os
from collections.abc import Iterator

import psycopg
import pytest
import redis

PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RUN_ID = f"{os.getpid()}"


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
