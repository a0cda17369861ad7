"""Deprecated: the jobs are one table in `chalicelib/schedules.py`.

`job` is a no-op marker left only for the services not yet moved off it (fulfilment);
it registers nothing. Do not use it in new code: add the job to `schedules.JOBS`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable[..., object])


def job(name: str) -> Callable[[F], F]:
    def mark(fn: F) -> F:
        return fn

    return mark
