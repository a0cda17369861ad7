"""Pay now, and the payment channels' asynchronous notifications."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from pydantic import StringConstraints

from ..clock import clock
from ..schemas.common import Body, View, example
from ..schemas.payments import PaymentView, PayNowIn
from ..services import payments
from ..web import CONSUMER, PUBLIC, Ctx, Reply, Router

router = Router("payments")


def payment_view(
    attempt: payments.PaymentAttempt, order_status: str, launch: dict[str, object] | None = None
) -> PaymentView:
    return PaymentView(
        payment_id=attempt.attempt_id,
        order_id=attempt.order_id,
        channel=attempt.channel,
        amount_fen=int(attempt.amount_fen),
        currency=attempt.currency,
        status=attempt.status,
        order_status=order_status,
        card_last4=attempt.card_last4,
        failure_code=attempt.failure_code,
        created_at=attempt.created_at,
        settled_at=attempt.settled_at,
        launch=launch,
    )


def render_payment(result: payments.PaymentResult) -> PaymentView:
    return payment_view(result.attempt, result.order_status, result.launch)


@router.route(
    "/v1/orders/{order_id}/payments",
    "POST",
    roles=CONSUMER,
    body=PayNowIn,
    response=PaymentView,
    status=201,
    idempotent=True,
    claim_in_tx=True,
    render=render_payment,
    errors=payments.PAY_NOW_ERRORS,
)
def pay_now(ctx: Ctx, order_id: str) -> payments.PaymentResult:
    """Pay an order now: card charged now, wallet debited now, or Alipay / WeChat Pay launch data.

    `status` is `succeeded`, or `pending` while a card charge awaits the gateway or the
    user pays in the Alipay / WeChat app (the channel's notification settles it). A trade
    of the order still open at another channel is closed there first: 409
    `payment_in_progress` when that channel says it was paid (it is settled) or does not
    confirm the close.
    """
    body: PayNowIn = ctx.body
    return payments.pay_now(ctx.user_id, order_id, body.channel, clock.now(), idem=ctx.idem, scope=body.scope)


def _reply(answer: payments.NotifyReply) -> Reply:
    return Reply(answer.body, status=answer.status, content_type=answer.content_type, headers=answer.headers)


def _notify(ctx: Ctx, path: str) -> Reply:
    headers = dict(ctx.request.headers.items())
    return _reply(payments.handle_notification(path, headers, ctx.body, clock.now()))


@router.route(
    "/v1/channels/alipay/notify",
    "POST",
    roles=PUBLIC,
    raw_body=True,
    errors={400: ["failure"]},
)
def alipay_notify(ctx: Ctx) -> Reply:
    """Alipay's asynchronous notification (form-encoded, RSA2); answers `success` or `failure`."""
    return _notify(ctx, "alipay")


@router.route(
    "/v1/channels/wechatpay/notify",
    "POST",
    roles=PUBLIC,
    raw_body=True,
    status=204,
    errors={400: ["malformed", "bad_ciphertext", "mismatch"], 401: ["bad_signature", "stale", "unknown_serial"]},
)
def wechatpay_notify(ctx: Ctx) -> Reply:
    """WeChat Pay API v3 notification (signed headers, AES-256-GCM resource); 204 or JSON {code, message}."""
    return _notify(ctx, "wechatpay")


@router.route(
    "/v1/channels/card/notify",
    "POST",
    roles=PUBLIC,
    raw_body=True,
    errors={400: ["malformed", "mismatch"], 401: ["bad_signature", "stale"]},
)
def card_notify(ctx: Ctx) -> Reply:
    """The bank-card gateway's notification (JSON, HMAC-SHA256 in X-Gateway-Signature)."""
    return _notify(ctx, "card")


# --- local stage: play the channel -------------------------------------------------------

sandbox_router = Router("dev", local_only=True)  # served by the local stage only


class SimulateIn(Body):
    model_config = example({"payment_id": "pa0123456789abcdef0123456789abcd", "outcome": "succeeded"})

    payment_id: Annotated[str, StringConstraints(pattern=r"^pa[0-9a-f]{30}$")]
    outcome: Literal["succeeded", "failed"] = "succeeded"


class SimulateView(View):
    channel_status: int
    channel_answer: str


@sandbox_router.route(
    "/v1/dev/payments/notify",
    "POST",
    roles=PUBLIC,
    body=SimulateIn,
    response=SimulateView,
    errors=payments.SIMULATE_ERRORS,
)
def simulate_channel_notification(ctx: Ctx) -> SimulateView:
    """Play the channel: send the payment's signed sandbox notification through the real notify path."""
    body: SimulateIn = ctx.body
    answer = payments.simulate_notification(body.payment_id, body.outcome, clock.now())
    text = answer.body if isinstance(answer.body, str) else json.dumps(answer.body)
    return SimulateView(channel_status=answer.status, channel_answer=text)
