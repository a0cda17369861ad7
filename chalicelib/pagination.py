"""Opaque, tamper-proof list cursors: DynamoDB's last key, signed and bound to its list."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from . import errors
from .config import settings


def _mac(payload: bytes) -> bytes:
    return hmac.new(settings().secret_bytes("CURSOR_SECRET"), payload, hashlib.sha256).digest()[:16]


def encode(last_key: dict[str, Any] | None, scope: str) -> str | None:
    if not last_key:
        return None
    payload = json.dumps({"s": scope, "k": last_key}, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(_mac(payload) + payload).decode().rstrip("=")


def decode(cursor: str | None, scope: str) -> dict[str, Any] | None:
    if not cursor:
        return None
    bad = errors.bad_request("invalid_cursor", "the cursor is not one this list issued")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (ValueError, TypeError) as exc:
        raise bad from exc
    mac, payload = raw[:16], raw[16:]
    if len(mac) != 16 or not hmac.compare_digest(mac, _mac(payload)):
        raise bad
    try:
        doc = json.loads(payload)
    except ValueError as exc:
        raise bad from exc
    if not isinstance(doc, dict) or doc.get("s") != scope or not isinstance(doc.get("k"), dict):
        raise bad
    key: dict[str, Any] = doc["k"]
    return key
