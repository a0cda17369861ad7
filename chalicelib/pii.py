"""Personal data at rest: keyed hashes for uniqueness, envelope encryption, masking.

Nothing here logs. The data key wraps a fresh key per value (envelope encryption); in
the cloud the wrapping key comes from the stage's secret (KMS-encrypted in Secrets
Manager), locally from `.chalice/config.json`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .config import settings


def keyed_hash(kind: str, value: str) -> str:
    key = settings().secret_bytes("PII_HASH_KEY")
    return hmac.new(key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def _wrapping_key() -> bytes:
    raw = settings().secret_bytes("PII_DATA_KEY")
    return hashlib.sha256(raw).digest()  # any secret length -> a 256-bit AES key


def encrypt(value: str, context: str) -> str:
    dek = AESGCM.generate_key(bit_length=256)
    n1, n2 = os.urandom(12), os.urandom(12)
    wrapped = AESGCM(_wrapping_key()).encrypt(n1, dek, context.encode())
    ciphertext = AESGCM(dek).encrypt(n2, value.encode(), context.encode())
    parts = [n1, wrapped, n2, ciphertext]
    return "v1." + ".".join(base64.urlsafe_b64encode(p).decode() for p in parts)


def decrypt(token: str, context: str) -> str:
    version, *parts = token.split(".")
    if version != "v1" or len(parts) != 4:
        raise ValueError("unknown ciphertext format")
    n1, wrapped, n2, ciphertext = (base64.urlsafe_b64decode(p) for p in parts)
    dek = AESGCM(_wrapping_key()).decrypt(n1, wrapped, context.encode())
    return AESGCM(dek).decrypt(n2, ciphertext, context.encode()).decode()


def mask_name(name: str) -> str:
    return "*" * (len(name) - 1) + name[-1:] if len(name) > 1 else "*"


def mask_id_number(number: str) -> str:
    return number[:1] + "*" * (len(number) - 2) + number[-1:]


def mask_card(last4: str) -> str:
    return f"**** {last4}"
