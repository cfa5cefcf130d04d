"""The engine stays pure computation: no web framework, database, task queue, other service
or shared/ import in any of its modules (DESIGN §2), so it runs and is tested on its own."""
from __future__ import annotations

import ast
from pathlib import Path

from services.matching import engine

FORBIDDEN = ("flask", "sqlalchemy", "celery", "kombu", "redis", "psycopg", "requests",
             "services.partners", "services.notify", "services.portal", "shared")
ENGINE_DIR = Path(engine.__file__).parent


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_no_engine_module_imports_the_service_around_it() -> None:
    modules = sorted(ENGINE_DIR.glob("*.py"))
    assert len(modules) >= 8
    for path in modules:
        for name in imported_modules(path):
            assert not any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN), (
                f"{path.name} imports {name}")
            if name.startswith("services."):
                assert name.startswith("services.matching.engine"), f"{path.name}: {name}"
