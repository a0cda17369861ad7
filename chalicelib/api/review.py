"""Reviewers (审核): redemption requests held for manual review, and their decisions."""

from __future__ import annotations

from datetime import datetime

from ..clock import clock, parse_iso
from ..schemas.wallet import (
    RedemptionDecisionIn,
    RedemptionHistoryView,
    ReviewQuery,
    ReviewRedemptionPage,
    ReviewRedemptionView,
    UserStandingView,
)
from ..services import accounts, orders, redemption, wallet
from ..web import REVIEWER, Ctx, Router

router = Router("review")


def review_view(r: wallet.Redemption) -> ReviewRedemptionView:
    return ReviewRedemptionView(
        redemption_id=r.redemption_id,
        user_id=r.user_id,
        status=r.status,
        amount_fen=int(r.amount_fen),
        points=int(r.points),
        reason=r.reason,
        created_at=r.created_at,
        updated_at=r.updated_at,
        decided_at=r.decided_at,
        decided_by=r.decided_by,
        decision_note=r.decision_note,
        history=[
            RedemptionHistoryView(
                status=h["status"], at=h["at"], actor=h["actor"], reason=h.get("reason"), note=h.get("note")
            )
            for h in r.history or []
        ],
    )


def standing_view(user: accounts.User) -> UserStandingView:
    return UserStandingView(
        bnpl_status=user.bnpl_status,
        account_created_at=user.created_at,
        on_time_paid_count=int(user.on_time_paid_count or 0),
        overdue_open_count=int(user.overdue_open_count or 0),
        unpaid_bnpl_count=int(user.unpaid_bnpl_count or 0),
    )


def queue_view(r: wallet.Redemption, user: accounts.User | None, now: datetime) -> ReviewRedemptionView:
    view = review_view(r)
    view.standing = standing_view(user) if user else None
    view.waiting_seconds = max(0, int((now - parse_iso(r.created_at)).total_seconds()))
    return view


@router.route("/v1/review/redemptions", "GET", roles=REVIEWER, query=ReviewQuery, response=ReviewRedemptionPage)
def list_redemptions_for_review(ctx: Ctx) -> ReviewRedemptionPage:
    """Undecided redemption requests (default `manual_review`), oldest first, each with the
    requester's standing and how long it has waited."""
    q: ReviewQuery = ctx.query
    items, cursor = redemption.list_open(q.status, limit=q.limit, cursor=q.cursor)
    users = orders.standing.standings([r.user_id for r in items])
    now = clock.now()
    return ReviewRedemptionPage(items=[queue_view(r, users.get(r.user_id), now) for r in items], next_cursor=cursor)


@router.route(
    "/v1/review/redemptions/{redemption_id}/decision",
    "POST",
    roles=REVIEWER,
    body=RedemptionDecisionIn,
    response=ReviewRedemptionView,
    idempotent=True,
    render=review_view,
    errors=redemption.DECIDE_ERRORS,
)
def decide_redemption(ctx: Ctx, redemption_id: str) -> wallet.Redemption:
    """Approve (cash credited, points consumed) or reject (points released), once; a reviewer
    never decides their own request (403 `own_case`)."""
    body: RedemptionDecisionIn = ctx.body
    return redemption.reviewer_decision(
        ctx.user_id, redemption_id, body.decision, body.note, clock.now(), idem=ctx.idem
    )
