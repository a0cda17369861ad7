"""Installments (分期, SPEC 'Installments'): an order's price paid in 3, 6 or 12 monthly parts.

- `arithmetic`: the pure money rules — the fee (half up), the parts (remainder fen on part 1,
  the fee apportioned the same way), the due dates, the annualised rate `apr_bps` (IRR of the
  cash flows), the `schedule_checksum`, a partial refund (unpaid parts reduced from the last
  backwards, fee share included, the excess refunded) and the payoff (the fee of every part
  whose month has not begun is waived). No I/O: every function takes and returns plain values.
- `quotes`: the plans offered for an amount (and a product's 免息 terms), from stage settings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ... import lazy

if TYPE_CHECKING:
    from . import bills, cancel, lifecycle, plans, quotes, state, views
else:
    __getattr__ = lazy.modules(__name__, ["bills", "cancel", "lifecycle", "plans", "quotes", "state", "views"])

__all__ = ["bills", "cancel", "lifecycle", "plans", "quotes", "state", "views"]
