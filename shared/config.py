"""Configuration from environment variables, read when an app is created, never at import."""
from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("MITRA_VAR_DIR", PROJECT_ROOT / "var"))


def env_str(name: str, default: str | None = None) -> str | None:
    """An environment variable, or `default` when it is unset or empty."""
    value = os.environ.get(name, "")
    return value if value != "" else default


def env_int(name: str, default: int) -> int:
    """An integer environment variable; a clear error when it is not a number."""
    raw = env_str(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise RuntimeError(f"{name} must be an integer, got {raw!r}") from exc


def env_bool(name: str, default: bool) -> bool:
    """A boolean environment variable: 1/true/yes/on or 0/false/no/off."""
    raw = env_str(name)
    if raw is None:
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise RuntimeError(f"{name} must be a boolean, got {raw!r}")


def sqlite_url(name: str) -> str:
    """The embedded default database of a service: a SQLite file under var/."""
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{VAR_DIR / (name + '.db')}"


def base_config(service: str) -> dict:
    """Settings every service shares; each service adds its own on top."""
    prefix = service.upper()
    return {
        "SERVICE_NAME": service,
        "DATABASE_URL": env_str(f"{prefix}_DATABASE_URL") or sqlite_url(service),
        "REDIS_URL": env_str("REDIS_URL"),
        # Hot read endpoints keep their answers until a write changes them (shared/read_cache.py).
        "READ_CACHE": env_bool("READ_CACHE", True),
        "MAX_CONTENT_LENGTH": env_int("MAX_BODY_BYTES", 1024 * 1024),
        "JWT_ISSUER": env_str("JWT_ISSUER", "mitra-partners"),
        "JWT_AUDIENCE": env_str("JWT_AUDIENCE", "mitra"),
        "PARTNERS_URL": env_str("PARTNERS_URL", "http://127.0.0.1:8001"),
        # Where the outbox relay posts events (shared/outbox_relay.py), and how often the
        # beat sweeper sends what the after-commit relay could not.
        "NOTIFY_URL": env_str("NOTIFY_URL", "http://127.0.0.1:8003"),
        "NOTIFY_TIMEOUT_S": env_int("NOTIFY_TIMEOUT_S", 10),
        "OUTBOX_SWEEP_S": env_int("OUTBOX_SWEEP_S", 5),
        "LOG_LEVEL": env_str("LOG_LEVEL", "INFO"),
        # One log line per request (shared/logging.py); off for load tests.
        "ACCESS_LOG": env_bool("ACCESS_LOG", True),
        # flask-smorest / OpenAPI
        "API_TITLE": f"Mitra {service}",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/",
        "OPENAPI_JSON_PATH": "api/v1/openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "api/docs",
        "OPENAPI_SWAGGER_UI_URL": env_str(
            "SWAGGER_UI_URL", "https://cdn.jsdelivr.net/npm/swagger-ui-dist/"
        ),
        "JSON_SORT_KEYS": False,
    }
