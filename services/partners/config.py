"""The partners service's settings, all from environment variables (see README)."""
from __future__ import annotations

from pathlib import Path

from shared.config import VAR_DIR, base_config, env_bool, env_int, env_str


def _service_clients(raw: str | None) -> dict[str, str]:
    """`matching=secret1,notify=secret2` -> {"matching": "secret1", ...}"""
    clients: dict[str, str] = {}
    for item in (raw or "").split(","):
        name, _, secret = item.strip().partition("=")
        if name and secret:
            clients[name] = secret
    return clients


def load() -> dict:
    config = base_config("partners")
    config.update({
        "JWT_KEYS_DIR": Path(env_str("JWT_KEYS_DIR") or VAR_DIR / "keys"),
        # Only the embedded default and tests may create a key when the folder is empty.
        "JWT_CREATE_KEY_IF_MISSING": env_bool("JWT_CREATE_KEY_IF_MISSING", True),
        "ACCESS_TOKEN_MINUTES": env_int("ACCESS_TOKEN_MINUTES", 30),
        "SERVICE_TOKEN_MINUTES": env_int("SERVICE_TOKEN_MINUTES", 60),
        "SERVICE_CLIENTS": _service_clients(env_str("SERVICE_CLIENTS")),
        "LOGIN_RATE_LIMIT": env_str("LOGIN_RATE_LIMIT", "10 per minute"),
        "RATELIMIT_STORAGE_URI": env_str("RATELIMIT_STORAGE_URI")
        or env_str("REDIS_URL") or "memory://",
        "INVITATION_DAYS": env_int("INVITATION_DAYS", 7),
        "OFFER_EXPIRY_WARNING_DAYS": env_int("OFFER_EXPIRY_WARNING_DAYS", 7),
        "PASSWORD_HASH_TIME_COST": env_int("PASSWORD_HASH_TIME_COST", 3),
        "PASSWORD_HASH_MEMORY_KIB": env_int("PASSWORD_HASH_MEMORY_KIB", 65536),
        # Celery (the outbox relay): broker (default: REDIS_URL, else SQLite) and key prefix.
        "CELERY_BROKER_URL": env_str("CELERY_BROKER_URL"),
        "CELERY_KEY_PREFIX": env_str("CELERY_KEY_PREFIX"),
    })
    return config
