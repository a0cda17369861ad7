"""先用后付: the agreement and activation."""

from __future__ import annotations

from ..clock import clock
from ..config import settings
from ..schemas.installments import PlansQuery, PlansView, PlanView
from ..schemas.me import ActivationIn, AgreementView, BnplAccountView, CreditView
from ..services import activation, catalog, installments
from ..web import CONSUMER, Ctx, Router

router = Router("bnpl")


@router.route("/v1/bnpl/agreement", "GET", roles=CONSUMER, response=AgreementView)
def get_agreement(ctx: Ctx) -> AgreementView:
    """The current service agreement (version and text)."""
    version, title, text = activation.agreement()
    return AgreementView(version=version, title=title, text=text)


def opened_view(a: activation.Activated) -> BnplAccountView:
    """The account as the activation wrote it: its credit book is new, nothing used."""
    return BnplAccountView(
        status=a.user.bnpl_status,
        agreement_version=a.user.agreement_version,
        activated_at=a.user.activated_at,
        currency=settings().rules.currency,
        credit=CreditView(limit_fen=a.credit_limit_fen, used_fen=0, available_fen=a.credit_limit_fen),
    )


@router.route(
    "/v1/bnpl/activation",
    "POST",
    roles=CONSUMER,
    body=ActivationIn,
    response=BnplAccountView,
    status=201,
    errors=activation.ACTIVATE_ERRORS,
    render=opened_view,
)
def activate_bnpl(ctx: Ctx) -> activation.Activated:
    """Activate 先用后付 (开通): eligibility checked, starting credit limit granted. Answers the
    account it opened: status, agreement, activation time and credit (limit, used, available)."""
    body: ActivationIn = ctx.body
    return activation.activate(ctx.user_id, body.agreement_version, clock.now(), idem=ctx.idem)


@router.route(
    "/v1/bnpl/plans",
    "GET",
    roles=CONSUMER,
    query=PlansQuery,
    response=PlansView,
    errors=catalog.NOT_FOUND_ERRORS,
)
def get_plans(ctx: Ctx) -> PlansView:
    """Every plan for an amount (single payment, then 3/6/12 parts when eligible): fee in fen,
    who pays it, the parts, `apr_bps` and the `schedule_checksum` a checkout sends back."""
    q: PlansQuery = ctx.query
    free = catalog.get_product(q.product_id).product.interest_free_parts if q.product_id else []
    return PlansView(
        plans=[plan_view(one) for one in installments.quotes.quotes(q.amount_fen, [int(n) for n in free or []])]
    )


def plan_view(one: installments.quotes.Quote) -> PlanView:
    return PlanView(
        plan=one.plan,
        parts=one.parts,
        fee_fen=one.fee_fen,
        fee_payer=one.fee_payer,
        apr_bps=one.apr_bps,
        parts_fen=[p.amount_fen for p in one.schedule],
        schedule_checksum=one.schedule_checksum,
    )
