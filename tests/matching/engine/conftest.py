"""The engine is pure computation: its tests need no database, broker or running service,
and the guard below fails any of them that an autouse fixture from a parent conftest (the
service's tests share tests/conftest.py and tests/matching/conftest.py) would tie to one."""
from __future__ import annotations

import pytest

INFRASTRUCTURE = {"make_database", "redis_client", "app", "matching_app", "live_server",
                  "clean_partners", "mclient", "world", "celery_worker"}


@pytest.fixture(autouse=True)
def _pure(request: pytest.FixtureRequest) -> None:
    used = INFRASTRUCTURE & set(request.fixturenames)
    assert not used, f"engine tests must not use {sorted(used)}"
