"""The only source of "now" for the API, the schedules and the queue worker.

Real UTC time plus an offset that the local stage (`/v1/dev/clock`) and tests can move.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone

# China time (北京时间): UTC+8, no daylight saving. Cut-offs, bill months, messages and
# the channels' wire formats are in it.
CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")


class Clock:
    def __init__(self) -> None:
        self._offset = timedelta(0)
        self._frozen: datetime | None = None
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            if self._frozen is not None:
                return self._frozen + self._offset
            return datetime.now(UTC) + self._offset

    def advance(self, seconds: int) -> datetime:
        with self._lock:
            self._offset += timedelta(seconds=seconds)
        return self.now()

    def freeze(self, at: datetime) -> None:
        """Stop the clock at `at` (tests); `advance` still moves it."""
        with self._lock:
            self._frozen = at.astimezone(UTC)
            self._offset = timedelta(0)

    def reset(self) -> None:
        with self._lock:
            self._frozen = None
            self._offset = timedelta(0)

    @property
    def offset_seconds(self) -> int:
        return int(self._offset.total_seconds())


clock = Clock()


def iso(at: datetime) -> str:
    """RFC 3339 UTC with a Z and whole microseconds, sortable as a string."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
