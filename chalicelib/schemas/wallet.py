"""Wallet entries, coupons and redemption (兑现) requests; the reviewer's views."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from .common import STRIP, Body, Page, PageQuery, PositiveFen, View, example, one_of
from .kinds import BnplStatus, CouponStatus, Decision, EventKind, RedemptionStatus, WalletBook

Kind = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]


class EntriesQuery(PageQuery):
    kind: Kind | None = Field(
        default=None,
        description=(
            "only entries whose book or event kind is this. Books: `credit_used`, `cash`, `points`, "
            "`points_held`, `points_owed`. Event kinds, e.g. `points_earned`, `points_reversed`, "
            "`redemption_held`, `redemption_credited`, `redemption_points_consumed`, `redemption_released`, "
            "`credit_reserved`, `credit_released`."
        ),
    )


class EntryView(View):
    event_id: str = Field(description="the business event; all its legs share it and sum to zero")
    kind: EventKind = Field(description="the event kind")
    book: WalletBook = Field(description="the balance the entry moves (`points*` books count points)")
    amount_fen: int | None = Field(default=None, description="signed fen, on a money book (else null)")
    points: int | None = Field(default=None, description="signed points, on a points book (else null)")
    unit: Literal["fen", "points"] = Field(description="which of `amount_fen` and `points` is set")
    posted_at: str
    ref: str | None = Field(default=None, description="the order or redemption the event is about")


class EntryPage(Page[EntryView]):
    pass


class CouponsQuery(PageQuery):
    status: CouponStatus | None = Field(
        default=None, description="`expired` = unused and past `expires_at` (computed from the clock)"
    )


class CouponView(View):
    coupon_id: str
    title: str
    discount_fen: int
    min_spend_fen: int
    expires_at: str
    status: CouponStatus
    issued_at: str
    used_at: str | None = None
    order_id: str | None = None


class CouponPage(Page[CouponView]):
    pass


class RedemptionIn(Body):
    """Exactly one of `amount_fen` (SPEC) or `points` (the points to redeem)."""

    # The document says what `_exactly_one` enforces: one object schema per form.
    model_config = one_of(
        ("RedemptionAmountIn", {"amount_fen": None}),
        ("RedemptionPointsIn", {"points": None}),
        examples=[{"amount_fen": 3000}, {"points": 3000}],
    )

    amount_fen: PositiveFen | None = None
    points: Annotated[int, Field(gt=0, le=10**12, description="points to redeem instead of an amount")] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> RedemptionIn:
        if (self.amount_fen is None) == (self.points is None):
            raise ValueError("give exactly one of amount_fen and points")
        return self


class RedemptionView(View):
    redemption_id: str
    status: RedemptionStatus
    amount_fen: int
    points: int
    reason: str | None = Field(default=None, description="why it is in manual review, or why it was decided so")
    created_at: str
    updated_at: str
    decided_at: str | None = None


class RedemptionPage(Page[RedemptionView]):
    pass


class ReviewQuery(PageQuery):
    status: Literal["manual_review", "pending"] = "manual_review"


class RedemptionHistoryView(View):
    status: RedemptionStatus
    at: str
    actor: str
    reason: str | None = None
    note: str | None = None


class UserStandingView(View):
    """What a reviewer weighs about the requester (no personal data)."""

    bnpl_status: BnplStatus
    account_created_at: str
    on_time_paid_count: int
    overdue_open_count: int
    unpaid_bnpl_count: int


class ReviewRedemptionView(RedemptionView):
    user_id: str
    decided_by: str | None = None
    decision_note: str | None = None
    history: list[RedemptionHistoryView]
    standing: UserStandingView | None = Field(default=None, description="the requester's standing (in the queue)")
    waiting_seconds: int | None = Field(default=None, description="time since the request, by the service clock")


class ReviewRedemptionPage(Page[ReviewRedemptionView]):
    pass


class RedemptionDecisionIn(Body):
    model_config = example({"decision": "approve", "note": "ok"})

    decision: Decision
    note: Annotated[str, StringConstraints(max_length=500), STRIP] | None = None
