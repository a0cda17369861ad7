"""A merchant's payout is due at the next cut-off after any credit to its `payable`.

Every transaction that saves a positive `payable` entry of a merchant arms the timer
`payout` / `<next cut-off>#<merchant_id>` in that same transaction (once per merchant),
through a commit hook of `db.Tx`: the ledger posts money and knows no timer.
`run_payouts` (services/payouts.py) sweeps the keys due.
"""

from __future__ import annotations

from ..db import Tx
from ..models.ledger import Entry


def arm_payouts(tx: Tx) -> None:
    """Arm the payout of every merchant whose payable this transaction credits.

    Registered by every process that runs a service (services/__init__.py), so the ledger,
    timers and cut-off load on the first commit, not at import (a cold start:
    tests/architecture/test_cold_start.py)."""
    from .. import ledger, timers
    from ..clock import parse_iso
    from ..cutoff import next_cutoff

    merchant = ledger.merchant_account("")
    armed: set[str] = set()
    for item in tx.saved():
        if not (isinstance(item, Entry) and item.book == ledger.PAYABLE and int(item.amount) > 0):
            continue
        merchant_id = str(item.account).removeprefix(merchant)
        if str(item.account).startswith(merchant) and merchant_id not in armed:
            armed.add(merchant_id)
            timers.schedule(tx, timers.PAYOUT, merchant_id, next_cutoff(parse_iso(str(item.posted_at))))


if arm_payouts not in Tx.commit_hooks:
    Tx.commit_hooks.append(arm_payouts)
