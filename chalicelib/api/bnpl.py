"""先用后付: the agreement and activation."""

from __future__ import annotations

from ..clock import clock
from ..schemas.me import ActivationIn, AgreementView, MeView
from ..services import activation
from ..web import CONSUMER, Ctx, Router
from .me import me_view

router = Router("bnpl")


@router.route("/v1/bnpl/agreement", "GET", roles=CONSUMER, response=AgreementView)
def get_agreement(ctx: Ctx) -> AgreementView:
    """The current service agreement (version and text)."""
    version, title, text = activation.agreement()
    return AgreementView(version=version, title=title, text=text)


@router.route(
    "/v1/bnpl/activation",
    "POST",
    roles=CONSUMER,
    body=ActivationIn,
    response=MeView,
    status=201,
    errors={409: ["already_activated"], 422: ["not_eligible"]},
)
def activate_bnpl(ctx: Ctx) -> MeView:
    """Activate 先用后付 (开通): eligibility checked, starting credit limit granted."""
    body: ActivationIn = ctx.body
    return me_view(activation.activate(ctx.user_id, body.agreement_version, clock.now()))
