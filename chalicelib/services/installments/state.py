"""An order's installment plan as stored on the order (`Order.installment_plan`, JSON).

The order item is the one place a part's status changes, so every change is a conditional
write of the order (its status, `amount_due_fen` and `due_at`: the current part's) and a part
is paid once. Before receipt the parts have no due dates; receipt dates them. While parts
remain, the order's `due_at` / `amount_due_fen` are the current (first unpaid) part's, and
`credit_reserved_fen` is the principal still unpaid.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

from ...clock import parse_iso
from ...models.orders import Order
from . import arithmetic as ar


@dataclass(frozen=True)
class PartState:
    seq: int
    principal_fen: int
    fee_fen: int
    status: str = ar.PartStatus.SCHEDULED
    due_at: str | None = None
    paid_at: str | None = None
    on_time: bool | None = None
    fee_waived_fen: int = 0
    bill_attempt_id: str | None = None  # paid by this monthly bill payment (its refunds go back through it)

    @property
    def amount_fen(self) -> int:
        return self.principal_fen + self.fee_fen

    @property
    def unpaid(self) -> bool:
        return self.status in ar.UNPAID

    def arithmetic(self) -> ar.Part:
        return ar.Part(self.seq, self.principal_fen, self.fee_fen, ar.PartStatus(self.status))


@dataclass(frozen=True)
class PlanState:
    parts: int
    fee_fen: int  # the plan's whole fee as quoted
    fee_payer: str  # "consumer" | "merchant"
    apr_bps: int
    checksum: str
    schedule: tuple[PartState, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["schedule"] = [asdict(p) for p in self.schedule]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PlanState:
        schedule = tuple(PartState(**{k: v for k, v in p.items()}) for p in data.get("schedule", []))
        return cls(
            parts=int(data["parts"]),
            fee_fen=int(data["fee_fen"]),
            fee_payer=str(data["fee_payer"]),
            apr_bps=int(data["apr_bps"]),
            checksum=str(data["checksum"]),
            schedule=schedule,
        )

    @property
    def current(self) -> PartState | None:
        """The first part still owed (collection works on it), or None when none is."""
        return next((p for p in self.schedule if p.unpaid), None)

    @property
    def unpaid_principal_fen(self) -> int:
        return sum(p.principal_fen for p in self.schedule if p.unpaid)

    @property
    def unpaid_fen(self) -> int:
        return sum(p.amount_fen for p in self.schedule if p.unpaid)

    def dues(self) -> list[datetime]:
        return [parse_iso(p.due_at) for p in self.schedule if p.due_at]

    def with_parts(self, parts: tuple[ar.Part, ...]) -> PlanState:
        """The plan after the arithmetic changed amounts or statuses (dates and payments kept)."""
        by_seq = {p.seq: p for p in parts}
        return replace(
            self,
            schedule=tuple(
                replace(
                    old,
                    principal_fen=by_seq[old.seq].principal_fen,
                    fee_fen=by_seq[old.seq].fee_fen,
                    status=str(by_seq[old.seq].status),
                )
                for old in self.schedule
            ),
        )

    def replace_part(self, part: PartState) -> PlanState:
        return replace(self, schedule=tuple(part if p.seq == part.seq else p for p in self.schedule))


def plan_of(order: Order) -> PlanState | None:
    """The order's installment plan, or None for a single payment."""
    data = order.installment_plan
    return PlanState.from_json(data) if data else None


def payoff_fen(order: Order, now: datetime) -> int | None:
    """What paying everything left costs now (None for a single payment)."""
    plan = plan_of(order)
    if plan is None:
        return None
    if not plan.dues():
        return plan.unpaid_fen  # not received yet: nothing has begun but part 1's month
    return ar.payoff([p.arithmetic() for p in plan.schedule], plan.dues(), now).payoff_fen


def part_tag(order: Order) -> dict[str, int]:
    """Timer data naming the part a collection timer is for ({} for a single payment)."""
    plan = plan_of(order)
    current = plan.current if plan is not None else None
    return {"part": current.seq} if current is not None else {}


def timer_is_stale(order: Order, data: dict[str, Any] | None) -> bool:
    """A collection timer tagged for a part that is no longer the current one (it was paid)."""
    tagged = (data or {}).get("part")
    return tagged is not None and part_tag(order).get("part") != int(tagged)
