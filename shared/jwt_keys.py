"""Signing keys and tokens for the identity provider (partners).

Keys are Ed25519 PEM files in one folder. The newest file (by name) signs; every file's public
key is published in the JWKS, so rotating is: add a newer key, wait one token lifetime, remove
the old one.
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALGORITHM = "EdDSA"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def public_jwk(public_key: Ed25519PublicKey) -> dict[str, str]:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    jwk = {"crv": "Ed25519", "kty": "OKP", "x": _b64(raw)}
    # RFC 7638 thumbprint: the key id never depends on file names.
    thumbprint = hashlib.sha256(json.dumps(jwk, separators=(",", ":"), sort_keys=True).encode())
    return {**jwk, "kid": _b64(thumbprint.digest()), "use": "sig", "alg": ALGORITHM}


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: Ed25519PrivateKey
    jwk: dict[str, str]


def generate_key_file(folder: Path) -> Path:
    """Write a new Ed25519 key; its name sorts after every existing one, so it becomes active."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    path = folder / f"signing-{stamp}.pem"
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    return path


class KeyRing:
    """The identity provider's keys: the active one signs, all of them verify."""

    def __init__(self, folder: Path, *, create_if_empty: bool) -> None:
        paths = sorted(folder.glob("*.pem")) if folder.exists() else []
        if not paths:
            if not create_if_empty:
                raise RuntimeError(f"no signing key in {folder}; set JWT_KEYS_DIR")
            paths = [generate_key_file(folder)]
        self.keys: list[SigningKey] = []
        for path in paths:
            private_key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(private_key, Ed25519PrivateKey):
                raise RuntimeError(f"{path} is not an Ed25519 private key")
            jwk = public_jwk(private_key.public_key())
            self.keys.append(SigningKey(jwk["kid"], private_key, jwk))
        self.active = self.keys[-1]

    def jwks(self) -> dict[str, Any]:
        return {"keys": [key.jwk for key in self.keys]}

    def issue(self, claims: dict[str, Any], *, issuer: str, audience: str,
              lifetime: timedelta) -> str:
        """A signed JWT carrying `claims`, valid for `lifetime`."""
        now = datetime.now(timezone.utc)
        payload = {**claims, "iss": issuer, "aud": audience, "iat": now, "nbf": now,
                   "exp": now + lifetime, "jti": uuid.uuid4().hex}
        return jwt.encode(payload, self.active.private_key, algorithm=ALGORITHM,
                          headers={"kid": self.active.kid})

    def public_keys(self) -> dict[str, Any]:
        return {key.kid: key.private_key.public_key() for key in self.keys}
