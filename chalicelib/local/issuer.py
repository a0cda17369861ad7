"""The local stage's token issuer: an RS256 key on disk and a minting function."""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

# Long enough to survive the demo moving the local clock past a payment window.
TOKEN_LIFETIME = timedelta(days=90)


def ensure_key(path: str) -> None:
    """Create the local signing key once; it never leaves the developer's machine."""
    if os.path.exists(path):
        return
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as fh:
        fh.write(pem)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


@lru_cache(maxsize=4)
def _private_key(path: str) -> Any:
    ensure_key(path)
    with open(path, "rb") as fh:
        # Our own key (`ensure_key` wrote it): the RSA consistency checks, meant for keys from
        # elsewhere, cost a local stage's first authenticated request ~0.1 s.
        return serialization.load_pem_private_key(fh.read(), password=None, unsafe_skip_rsa_key_validation=True)


def public_key(path: str) -> Any:
    return _private_key(path).public_key()


def mint(
    path: str,
    *,
    sub: str,
    roles: list[str],
    issuer: str,
    audience: str,
    roles_claim: str,
    now: datetime,
    lifetime: timedelta = TOKEN_LIFETIME,
) -> str:
    claims = {
        "sub": sub,
        roles_claim: roles,
        "iss": issuer,
        "aud": audience,
        "iat": int(now.timestamp()),
        "exp": int((now + lifetime).timestamp()),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, _private_key(path), algorithm="RS256", headers={"kid": "local"})
