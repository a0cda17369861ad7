"""Closed accounts: their tokens are refused (`401 account_closed`) on every route.

The check reads the user's `closed_at` once per request, except that an account seen
open is remembered for `OPEN_CACHE_SECONDS` in this process (a closure forgets it here at
once; other instances refuse within that time, as Cognito tokens outlive a sign-out too).
"""

from __future__ import annotations

import time

from pynamodb.exceptions import DoesNotExist

from . import errors
from .models.users import User

OPEN_CACHE_SECONDS = 60.0
_open_until: dict[str, float] = {}


def ensure_open(user_id: str) -> None:
    now = time.monotonic()
    if _open_until.get(user_id, 0.0) > now:
        return
    try:
        user = User.get(user_id, attributes_to_get=["closed_at"])
    except DoesNotExist:
        user = None
    if user is not None and user.closed_at:
        raise errors.unauthorized("account_closed", "this account was closed; its tokens are no longer accepted")
    if len(_open_until) > 10_000:
        _open_until.clear()
    _open_until[user_id] = now + OPEN_CACHE_SECONDS


def forget(user_id: str) -> None:
    _open_until.pop(user_id, None)
