"""The engine is pure computation: its tests need no database, broker or running service.

tests/matching/conftest.py (the service's tests) declares autouse fixtures that set up
PostgreSQL and truncate tables around every test; the no-op fixtures of the same names
below take their place for this folder.
"""
from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _clean_matching() -> Iterator[None]:
    yield


@pytest.fixture(autouse=True)
def _clean_state() -> Iterator[None]:
    yield
