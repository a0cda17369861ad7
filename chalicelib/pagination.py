"""Opaque, tamper-proof list cursors: DynamoDB's last key, sealed and bound to its list.

The last key can name things the list does not show (a public review's key holds the
buyer's order id), so a cursor is encrypted (AES-256-GCM under a key derived from
`CURSOR_SECRET`, the list's scope as associated data), not only signed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TypeVar

from . import errors
from .config import settings

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_NONCE = 12

T = TypeVar("T")


@lru_cache(maxsize=4)
def _aead(secret: bytes) -> AESGCM:
    # Loaded with the first cursor: most requests of a list's module never page (a cold start).
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(hmac.new(secret, b"paylater list cursor v2", hashlib.sha256).digest())


def _key() -> AESGCM:
    return _aead(settings().secret_bytes("CURSOR_SECRET"))


def encode(last_key: dict[str, Any] | None, scope: str) -> str | None:
    if not last_key:
        return None
    payload = json.dumps(last_key, separators=(",", ":"), sort_keys=True).encode()
    nonce = os.urandom(_NONCE)
    sealed = _key().encrypt(nonce, payload, scope.encode())
    return base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")


def decode(cursor: str | None, scope: str) -> dict[str, Any] | None:
    if not cursor:
        return None
    bad = errors.bad_request("invalid_cursor", "the cursor is not one this list issued")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (ValueError, TypeError) as exc:
        raise bad from exc
    if len(raw) <= _NONCE:
        raise bad
    from cryptography.exceptions import InvalidTag

    try:
        key = json.loads(_key().decrypt(raw[:_NONCE], raw[_NONCE:], scope.encode()))
    except (InvalidTag, ValueError) as exc:
        raise bad from exc
    if not isinstance(key, dict):
        raise bad
    return key


def page_list(items: Sequence[T], limit: int | None, cursor: str | None, scope: str) -> tuple[list[T], str | None]:
    """A page of a short list already read whole (addresses, cards, an order's requests): the
    cursor seals the offset of the next item; without `limit`, everything from the cursor on."""
    key = decode(cursor, scope)
    start = key.get("offset") if key is not None else 0
    if not isinstance(start, int) or isinstance(start, bool) or start < 0:
        raise errors.bad_request("invalid_cursor", "the cursor is not one this list issued")
    end = len(items) if limit is None else start + limit
    return list(items[start:end]), encode({"offset": end}, scope) if end < len(items) else None
