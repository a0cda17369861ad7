"""The local stack's DynamoDB answers one request at a time, as atomically as the service.

moto applies a TransactWriteItems item by item and rolls a failed one back by restoring
whole tables: two transactions that overlap in threads can each undo the other's writes
(a loser's rollback erases the winner's committed balance update), and a read can see half
a transaction. DynamoDB never does either, and people load-test the local stack with
concurrent clients, so every DynamoDB request moto answers holds one lock. Importing this
module installs it (`chalicelib/local/stack.py` does); `serialised()` is the same for a test.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

_LOCK = threading.RLock()


def install() -> Callable[[], None]:
    """Serialise moto's DynamoDB handler; returns what undoes it."""
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.call_action

    def one_at_a_time(self: Any) -> Any:
        with _LOCK:
            return original(self)

    DynamoHandler.call_action = one_at_a_time  # type: ignore[method-assign]

    def uninstall() -> None:
        DynamoHandler.call_action = original  # type: ignore[method-assign]

    return uninstall


@contextmanager
def serialised() -> Iterator[None]:
    uninstall = install()
    try:
        yield
    finally:
        uninstall()


install()
