"""Risk operators (风控): review cases, block/allow lists, rules and decision rates."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from .common import Body, Page, PageQuery, View, example
from .kinds import RiskListKind as ListKind
from .kinds import RiskListName as ListName
from .kinds import RiskOutcome as Outcome
from .kinds import RiskReviewStatus as ReviewStatus
from .orders import OrderSummaryView, OrderView
from .wallet import UserStandingView


class RiskReasonView(View):
    rule_id: str
    reason: str
    outcome: Outcome
    observed: dict[str, int] = Field(description="each input the rule looked at, as observed")
    threshold: dict[str, str] = Field(description="each input's condition, e.g. `>= 5`")


class RiskReviewView(View):
    review_id: str
    order_id: str
    user_id: str
    merchant_id: str
    amount_fen: int
    outcome: Outcome
    status: ReviewStatus
    rules_version: str
    reasons: list[RiskReasonView]
    created_at: str
    due_at: str | None = Field(default=None, description="when an undecided case is declined")
    waiting_seconds: int = Field(description="time since the order was held, by the service clock")
    decided_at: str | None = None
    decided_by: str | None = None
    decision_note: str | None = None


class RiskReviewPage(Page[RiskReviewView]):
    pass


class RiskReviewCaseView(RiskReviewView):
    inputs: dict[str, int] = Field(description="every input the rules saw")
    order: OrderView | None = None
    standing: UserStandingView | None = None
    recent_orders: list[OrderSummaryView] = Field(default_factory=list, description="the buyer's latest orders")


class RiskReviewsQuery(PageQuery):
    status: ReviewStatus = "pending"


class RiskReviewDecisionIn(Body):
    model_config = example({"decision": "approve", "note": "known customer, address matches"})

    decision: Literal["approve", "decline"]
    note: Annotated[str, StringConstraints(min_length=1, max_length=500)]


class RiskListEntryIn(Body):
    model_config = example(
        {"kind": "card", "list": "block", "value": "card_0123456789abcdef0123", "reason": "chargebacks"}
    )

    kind: ListKind
    value: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    reason: Annotated[str, StringConstraints(min_length=1, max_length=500)]
    list: ListName = "block"


class RiskListEntryView(View):
    entry_id: str
    list: ListName
    kind: ListKind
    hint: str = Field(description="the value's last characters; the value itself is kept only as a keyed hash")
    reason: str
    added_by: str
    added_at: str


class RiskListEntryPage(Page[RiskListEntryView]):
    pass


class RiskListQuery(PageQuery):
    list: ListName = "block"


class RiskRuleView(View):
    id: str
    when: list[list[Any]] = Field(description="clauses `[input, op, value]`, all of which must hold")
    outcome: Outcome
    reason: str


class RiskRulesView(View):
    version: str
    rules: list[RiskRuleView]


class RiskStatsQuery(View):
    days: int = Field(default=7, ge=1, le=31)


class RiskDayStatsView(View):
    day: str = Field(description="UTC day, YYYY-MM-DD")
    decisions: int
    approve: int
    review: int
    decline: int
    approve_rate_bps: int
    review_rate_bps: int
    decline_rate_bps: int
    reviews_ended: dict[str, int] = Field(description="held orders by how they ended: approved, declined, expired")
    rules: dict[str, int] = Field(description="decisions each rule matched")


class RiskStatsView(View):
    days: list[RiskDayStatsView]
