"""Risk operators (风控, role `risk`): orders held for review, block/allow lists, the rules
and decision rates. Operators see every reason (rule, observed value, threshold); the
buyer never does."""

from __future__ import annotations

from datetime import datetime

from ..clock import clock, parse_iso
from ..schemas.risk import (
    RiskDayStatsView,
    RiskListEntryIn,
    RiskListEntryPage,
    RiskListEntryView,
    RiskListQuery,
    RiskReasonView,
    RiskReviewCaseView,
    RiskReviewDecisionIn,
    RiskReviewPage,
    RiskReviewsQuery,
    RiskReviewView,
    RiskRulesView,
    RiskRuleView,
    RiskStatsQuery,
    RiskStatsView,
)
from ..services import risk
from ..web import RISK, Ctx, Router
from .fulfilment import summary_view
from .orders import order_view
from .review import standing_view

router = Router("risk")


def review_view(d: risk.RiskDecision, now: datetime) -> RiskReviewView:
    return RiskReviewView(
        review_id=d.decision_id,
        order_id=d.order_id,
        user_id=d.user_id,
        merchant_id=d.merchant_id,
        amount_fen=int(d.amount_fen),
        outcome=d.outcome,
        status=d.review_status,
        rules_version=d.rules_version,
        reasons=[RiskReasonView(**r) for r in d.reasons or []],
        created_at=d.created_at,
        due_at=d.review_due_at,
        waiting_seconds=max(0, int((now - parse_iso(d.created_at)).total_seconds())),
        decided_at=d.decided_at,
        decided_by=d.decided_by,
        decision_note=d.decision_note,
    )


def case_view(case: risk.reviews.Case) -> RiskReviewCaseView:
    base = review_view(case.decision, clock.now())
    return RiskReviewCaseView(
        **base.model_dump(),
        inputs=dict(case.decision.inputs or {}),
        order=order_view(case.order, for_buyer=False, money=case.money) if case.order else None,
        standing=standing_view(case.user) if case.user else None,
        recent_orders=[summary_view(o) for o in case.recent_orders],
    )


def entry_view(e: risk.RiskListEntry) -> RiskListEntryView:
    return RiskListEntryView(
        entry_id=e.entry_id,
        list=e.list_name,
        kind=e.kind,
        hint=e.hint,
        reason=e.reason,
        added_by=e.added_by,
        added_at=e.added_at,
    )


@router.route("/v1/risk/reviews", "GET", roles=RISK, query=RiskReviewsQuery, response=RiskReviewPage)
def list_risk_reviews(ctx: Ctx) -> RiskReviewPage:
    """Held orders in one status (default `pending`), oldest first, each with its age."""
    q: RiskReviewsQuery = ctx.query
    items, cursor = risk.reviews.list_reviews(q.status, limit=q.limit, cursor=q.cursor)
    now = clock.now()
    return RiskReviewPage(items=[review_view(d, now) for d in items], next_cursor=cursor)


@router.route(
    "/v1/risk/reviews/{review_id}",
    "GET",
    roles=RISK,
    response=RiskReviewCaseView,
    errors=risk.reviews.NOT_FOUND_ERRORS,
)
def get_risk_review(ctx: Ctx, review_id: str) -> RiskReviewCaseView:
    """The case on one call: each reason, every input, the order, the buyer's standing and
    latest orders."""
    return case_view(risk.reviews.case(review_id))


@router.route(
    "/v1/risk/reviews/{review_id}/decision",
    "POST",
    roles=RISK,
    body=RiskReviewDecisionIn,
    response=RiskReviewCaseView,
    idempotent=True,
    key_optional=True,
    claim_in_tx=True,
    render=case_view,
    errors=risk.reviews.DECIDE_ERRORS,
)
def decide_risk_review(ctx: Ctx, review_id: str) -> risk.reviews.Case:
    """Approve (the order is placed) or decline (cancelled, credit released), once, with a
    note; the buyer is notified. Nobody decides a review of their own order (403 `own_case`)."""
    body: RiskReviewDecisionIn = ctx.body
    return risk.reviews.decide(ctx.user_id, review_id, body.decision, body.note, clock.now(), idem=ctx.idem)


@router.route("/v1/risk/rules", "GET", roles=RISK, response=RiskRulesView)
def get_risk_rules(ctx: Ctx) -> RiskRulesView:
    """The rule set in force and its version, in evaluation order."""
    current = risk.rules.current()
    return RiskRulesView(
        version=current.version,
        rules=[
            RiskRuleView(
                id=r.rule_id, when=[[c.input, c.op, c.value] for c in r.clauses], outcome=r.outcome, reason=r.reason
            )
            for r in current.rules
        ],
    )


@router.route("/v1/risk/blocklist", "GET", roles=RISK, query=RiskListQuery, response=RiskListEntryPage)
def list_risk_list_entries(ctx: Ctx) -> RiskListEntryPage:
    """The block list (or, with `list=allow`, the allow list), newest first."""
    q: RiskListQuery = ctx.query
    items, cursor = risk.lists.entries(q.list, limit=q.limit, cursor=q.cursor)
    return RiskListEntryPage(items=[entry_view(e) for e in items], next_cursor=cursor)


@router.route(
    "/v1/risk/blocklist",
    "POST",
    roles=RISK,
    body=RiskListEntryIn,
    response=RiskListEntryView,
    status=201,
    idempotent=True,
    key_optional=True,
    render=entry_view,
    errors=risk.lists.ADD_ERRORS,
)
def add_risk_list_entry(ctx: Ctx) -> risk.RiskListEntry:
    """Block (or allow) a user, device, card, delivery address or phone; the value is kept
    only as a keyed hash, with who added it and why."""
    body: RiskListEntryIn = ctx.body
    return risk.lists.add(ctx.user_id, body.list, body.kind, body.value, body.reason, clock.now(), idem=ctx.idem)


@router.route(
    "/v1/risk/blocklist/{entry_id}",
    "DELETE",
    roles=RISK,
    status=204,
    idempotent=True,
    key_optional=True,
    claim_in_tx=True,
    errors=risk.lists.REMOVE_ERRORS,
)
def remove_risk_list_entry(ctx: Ctx, entry_id: str) -> None:
    """Take an entry off its list."""
    risk.lists.remove(ctx.user_id, entry_id, idem=ctx.idem)


@router.route("/v1/risk/stats", "GET", roles=RISK, query=RiskStatsQuery, response=RiskStatsView)
def get_risk_stats(ctx: Ctx) -> RiskStatsView:
    """Approval, review and decline rates by UTC day, and how often each rule matched."""
    q: RiskStatsQuery = ctx.query
    days = risk.stats.daily(q.days, clock.now())
    return RiskStatsView(
        days=[
            RiskDayStatsView(
                day=d.day,
                decisions=d.decisions,
                approve=d.outcomes.get("approve", 0),
                review=d.outcomes.get("review", 0),
                decline=d.outcomes.get("decline", 0),
                approve_rate_bps=d.rate_bps("approve"),
                review_rate_bps=d.rate_bps("review"),
                decline_rate_bps=d.rate_bps("decline"),
                reviews_ended=d.reviews,
                rules=d.rules,
            )
            for d in days
        ]
    )
