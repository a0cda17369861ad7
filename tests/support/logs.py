"""The log lines a request writes, parsed (JSON, one object a line)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from chalicelib.observability import logger

Lines = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def log_lines() -> Iterator[Lines]:
    """Reads every line the app logged since the test began, parsed (each must be JSON)."""
    handler = logger.handlers[0]
    buf = io.StringIO()
    old = handler.setStream(buf)  # type: ignore[attr-defined]
    level = logger.log_level
    logger.setLevel("DEBUG")
    try:
        yield lambda: [json.loads(line) for line in buf.getvalue().splitlines() if line.strip()]
    finally:
        handler.setStream(old)  # type: ignore[attr-defined]
        logger.setLevel(level)
