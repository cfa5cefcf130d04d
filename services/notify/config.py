"""The notify service's settings, all from environment variables (see README)."""
from __future__ import annotations

from shared.config import base_config, env_bool, env_int, env_str


def _rate_limits(raw: str | None) -> dict[str, float]:
    """`email=60,webhook=20` -> messages per second per channel (unset: unlimited)."""
    limits: dict[str, float] = {}
    for item in (raw or "").split(","):
        name, _, value = item.strip().partition("=")
        if name and value:
            limits[name] = float(value)
    return limits


def load() -> dict:
    config = base_config("notify")
    config.update({
        "SMTP_HOST": env_str("SMTP_HOST", "127.0.0.1"),
        "SMTP_PORT": env_int("SMTP_PORT", 8025),
        "SMTP_USER": env_str("SMTP_USER"),
        "SMTP_PASSWORD": env_str("SMTP_PASSWORD"),
        "SMTP_STARTTLS": env_bool("SMTP_STARTTLS", False),
        "SMTP_TIMEOUT_S": env_int("SMTP_TIMEOUT_S", 10),
        "MAIL_FROM": env_str("MAIL_FROM", "Mitra DP3A <no-reply@mitra.example.org>"),
        "PORTAL_URL": env_str("PORTAL_URL", "http://127.0.0.1:8000"),
        "WEBHOOK_ALLOW_PRIVATE": env_bool("WEBHOOK_ALLOW_PRIVATE", False),
        "WEBHOOK_TIMEOUT_S": env_int("WEBHOOK_TIMEOUT_S", 10),
        "DELIVERY_MAX_ATTEMPTS": env_int("DELIVERY_MAX_ATTEMPTS", 6),
        "DELIVERY_BACKOFF_S": env_int("DELIVERY_BACKOFF_S", 10),
        "DELIVERY_STUCK_AFTER_S": env_int("DELIVERY_STUCK_AFTER_S", 300),
        "CHANNEL_RATE_LIMITS": _rate_limits(env_str("CHANNEL_RATE_LIMITS")),
        "CELERY_BROKER_URL": env_str("CELERY_BROKER_URL"),
        "CELERY_KEY_PREFIX": env_str("CELERY_KEY_PREFIX"),
    })
    return config
