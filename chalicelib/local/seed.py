"""Demo data for the local stack: who exists when `make run` starts.

Seeding functions register here; each is idempotent (safe on every start).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from ..services import accounts

DEMO_CONSUMER = "demo-consumer"
DEMO_MERCHANT = "demo-merchant"
DEMO_REVIEWER = "demo-reviewer"

SEEDERS: list[Callable[[datetime], list[str]]] = []


def seed_users(now: datetime) -> list[str]:
    for uid in (DEMO_CONSUMER, DEMO_MERCHANT, DEMO_REVIEWER):
        accounts.get_or_create(uid, now)
    return [f"users {DEMO_CONSUMER}, {DEMO_MERCHANT}, {DEMO_REVIEWER}"]


SEEDERS.append(seed_users)


def seed_all(now: datetime) -> list[str]:
    lines: list[str] = []
    for seeder in SEEDERS:
        lines.extend(seeder(now))
    return lines
