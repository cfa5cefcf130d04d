"""The portal's settings, all from environment variables (see README)."""
from __future__ import annotations

import os
import secrets

from shared.config import VAR_DIR, env_bool, env_int, env_str


def _secret_key() -> str:
    """SECRET_KEY, or (embedded default) one made once under var/ and shared by every
    worker process, so that a session signed by one worker is read by the others."""
    configured = env_str("SECRET_KEY")
    if configured:
        return configured
    path = VAR_DIR / "portal-secret-key"
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def load() -> dict:
    return {
        "SERVICE_NAME": "portal",
        "PARTNERS_URL": env_str("PARTNERS_URL", "http://127.0.0.1:8001"),
        "MATCHING_URL": env_str("MATCHING_URL", "http://127.0.0.1:8002"),
        "NOTIFY_URL": env_str("NOTIFY_URL", "http://127.0.0.1:8003"),
        "API_TIMEOUT_S": env_int("PORTAL_API_TIMEOUT_S", 10),
        "SECRET_KEY": _secret_key(),
        # Secure by default; `false` only for plain-http local runs (make run).
        "SESSION_COOKIE_SECURE": env_bool("SESSION_COOKIE_SECURE", True),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_NAME": "mitra_session",
        "PERMANENT_SESSION_LIFETIME": env_int("PORTAL_SESSION_MINUTES", 30) * 60,
        "MAX_CONTENT_LENGTH": env_int("MAX_BODY_BYTES", 1024 * 1024),
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
        "LOG_LEVEL": env_str("LOG_LEVEL", "INFO"),
        "ACCESS_LOG": env_bool("ACCESS_LOG", True),
    }
