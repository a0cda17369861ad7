"""After-sale (guide 第四步): return requests of each kind, the goods' way back, the timers
of every wait a person can leave hanging, and the platform stepping in (平台介入).

- `records`: loading a request (404s) and its conditional status steps.
- `requests`: asking for a return (`refund_only`, the default, `return_goods` or
  `exchange`) and the merchant's answer.
- `refunds`: what a return gives back (credit released or money refunded, the merchant's
  settlement reversed), and the end of a pause (collection resumes).
- `shipments`: the consumer ships the goods back; the merchant confirms they arrived.
- `exchange`: the replacement reshipped (stock moves) and received (the window restarts).
- `sweep`: the job `advance_aftersale` (auto-approve, close, auto-refund, auto-receipt).
- `disputes`: escalation by the consumer, support's decision.
- `cases`: what support reads of an order or a dispute, by key where the order records it.

While a request is open the order is `return_requested`: collection is paused (its
sweepers drop their timers) and the order carries the wait it is in (`aftersale_timer`,
`aftersale_due_at`), from which `obligations.needed` derives its one timer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ... import lazy
from ...models.aftersale import Dispute as Dispute
from ...models.aftersale import ReturnRequest as ReturnRequest

if TYPE_CHECKING:
    from . import cases, disputes, exchange, records, requests, shipments, sweep
else:
    __getattr__ = lazy.modules(__name__, ["cases", "disputes", "exchange", "records", "requests", "shipments", "sweep"])

__all__ = ["Dispute", "ReturnRequest", "cases", "disputes", "exchange", "records", "requests", "shipments", "sweep"]
