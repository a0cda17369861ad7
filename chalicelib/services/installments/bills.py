"""The monthly bill (账单): every part a user owes that falls due in a month (China time).

Read from the user's orders by the `by_user` index, ranged on creation time (an order
created after the month cannot fall due in it, nor one created more than a year of parts
before it): never a scan. A single 先用后付 payment is a bill line of one part.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from ... import errors
from ...clock import CHINA, iso, parse_iso
from ...models import orders as o
from ...models.orders import Order
from . import arithmetic as ar
from .state import plan_of
from .views import PartRow, shown_status, single_plan

MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
# The longest reach back from a due date to the order's creation: 12 monthly parts after a
# 10-day delivery and a 7-day window, with room to spare.
REACH_BACK = timedelta(days=430)
BILL_ERRORS = errors.raises(unprocessable=["invalid_month"])


@dataclass(frozen=True)
class BillLine:
    order: Order
    row: PartRow


@dataclass(frozen=True)
class Bill:
    month: str
    lines: list[BillLine]

    @property
    def total_fen(self) -> int:
        return sum(line.row.part.amount_fen for line in self.lines)

    @property
    def unpaid_fen(self) -> int:
        return sum(line.row.part.amount_fen for line in self.lines if line.row.part.unpaid)


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """The month's first instant and the next month's, China time (as aware datetimes)."""
    found = MONTH.match(month)
    try:
        if not found:
            raise ValueError(month)
        start = datetime(int(found.group(1)), int(found.group(2)), 1, tzinfo=CHINA)
        end = ar.add_months(start, 1)
        _ = start - REACH_BACK  # the query reaches back this far: still a date
    except (ValueError, OverflowError):
        raise errors.unprocessable(
            "invalid_month", "a month is YYYY-MM", [errors.FieldError("month", "expected YYYY-MM")]
        ) from None
    return start, end


def bill(user_id: str, month: str, now: datetime) -> Bill:
    """Every part of the user's 先用后付 orders due in `month`, by due date."""
    start, end = month_bounds(month)
    lines: list[BillLine] = []
    since = iso(start - REACH_BACK)
    for order in Order.by_user.query(user_id, Order.created_key.between(since, iso(end))):
        if order.payment_method != o.BNPL or not order.due_at:
            continue
        plan = plan_of(order) or single_plan(order)
        for part in plan.schedule:
            if part.due_at and start <= parse_iso(part.due_at) < end:
                lines.append(BillLine(order, PartRow(part, shown_status(order, plan, part, now))))
    lines.sort(key=lambda line: (str(line.row.part.due_at), line.order.order_id))
    return Bill(month, lines)
