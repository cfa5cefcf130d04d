"""Passwords (argon2), API keys and invitation tokens (random, stored as SHA-256)."""
from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# Verifying against this keeps a login for an unknown email as slow as for a known one.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))
API_KEY_PREFIX = "mk_"


def configure_password_hashing(time_cost: int, memory_kib: int) -> None:
    """Set argon2's cost (tests lower it; production keeps argon2-cffi's defaults)."""
    global _hasher, _DUMMY_HASH
    _hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)
    _DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def sha256_hex(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_api_key() -> tuple[str, str, str]:
    """(full key shown once, lookup prefix, hash to store). Keys are 256-bit random, so a
    plain SHA-256 is enough; argon2 would only slow every token exchange."""
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    full = f"{API_KEY_PREFIX}{prefix}_{secret}"
    return full, prefix, sha256_hex(full)


def parse_api_key(full: str) -> str | None:
    """The lookup prefix of a key, or None when it is not one of ours."""
    if not full.startswith(API_KEY_PREFIX):
        return None
    prefix, _, secret = full[len(API_KEY_PREFIX):].partition("_")
    return prefix if prefix and secret else None


def same_secret(stored_hash: str, presented: str) -> bool:
    return hmac.compare_digest(stored_hash, sha256_hex(presented))


def new_invitation_token() -> tuple[str, str]:
    token = secrets.token_urlsafe(32)
    return token, sha256_hex(token)
