"""Reviewers (审核): redemption requests held for manual review, and their decisions."""

from __future__ import annotations

from ..clock import clock
from ..models.redemptions import Redemption
from ..schemas.wallet import DecisionIn, ReviewQuery, ReviewRedemptionPage, ReviewRedemptionView
from ..services import redemption
from ..web import REVIEWER, Ctx, Router

router = Router("review")


def review_view(r: Redemption) -> ReviewRedemptionView:
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
        history=list(r.history or []),
    )


@router.route("/v1/review/redemptions", "GET", roles=REVIEWER, query=ReviewQuery, response=ReviewRedemptionPage)
def list_for_review(ctx: Ctx) -> ReviewRedemptionPage:
    """Undecided redemption requests (default `manual_review`), oldest first."""
    q: ReviewQuery = ctx.query
    items, cursor = redemption.list_open(q.status, limit=q.limit, cursor=q.cursor)
    return ReviewRedemptionPage(items=[review_view(r) for r in items], next_cursor=cursor)


@router.route(
    "/v1/review/redemptions/{redemption_id}/decision",
    "POST",
    roles=REVIEWER,
    body=DecisionIn,
    response=ReviewRedemptionView,
    idempotent=True,
    render=review_view,
    errors={403: ["own_case"], 404: ["redemption_not_found"], 409: ["illegal_transition"]},
)
def decide(ctx: Ctx, redemption_id: str) -> Redemption:
    """Approve (cash credited, points consumed) or reject (points released), once; a reviewer
    never decides their own request (403 `own_case`)."""
    body: DecisionIn = ctx.body
    return redemption.reviewer_decision(
        ctx.user_id, redemption_id, body.decision, body.note, clock.now(), idem=ctx.idem
    )
