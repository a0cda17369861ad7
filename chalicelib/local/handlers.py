"""The local stage's queue handlers by queue name (`app.py` fills it; the worker drains it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

QUEUE_HANDLERS: dict[str, Callable[[dict[str, Any], Any], Any]] = {}
