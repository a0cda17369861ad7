"""Scheduled jobs by name: the cloud schedules in app.py and `/v1/dev/jobs/{job}` both run
them through here, with the service clock's "now"."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from .observability import logger

JobFn = Callable[[datetime], dict[str, Any]]
JOBS: dict[str, JobFn] = {}


def job(name: str) -> Callable[[JobFn], JobFn]:
    def register(fn: JobFn) -> JobFn:
        JOBS[name] = fn
        return fn

    return register


def run(name: str, now: datetime) -> dict[str, Any]:
    _load()
    result = JOBS[name](now)
    logger.info("job finished", extra={"job": name, **{k: v for k, v in result.items() if isinstance(v, int)}})
    return result


def names() -> list[str]:
    _load()
    return sorted(JOBS)


def _load() -> None:
    """Import the services that register jobs (kept lazy: a cold API start skips them)."""
    from .services import schedules  # noqa: F401
