"""Orders: checkout, confirmation, list, detail, cancel."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..clock import clock, parse_iso
from ..config import settings
from ..schemas.orders import (
    AddressView,
    ChallengeView,
    CheckoutIn,
    CheckoutOrderView,
    CheckoutView,
    ConfirmationIn,
    ConfirmationView,
    HistoryView,
    OrderItemView,
    OrderList,
    OrderPaymentView,
    OrderRefundView,
    OrdersQuery,
    OrderSummaryView,
    OrderView,
    ShipmentView,
)
from ..services import orders
from ..web import CONSUMER, Ctx, Reply, Router

if TYPE_CHECKING:  # the checkout and payment services load on a checkout or confirmation, not on a read
    from ..errors import Raises
    from ..services import payments
    from ..services.checkout import CheckoutResult
    from ..services.confirmation import Confirmation

router = Router("orders")


def challenge_view(order: orders.Order) -> ChallengeView:
    return ChallengeView(
        challenge_id=str(order.challenge_id),
        nonce=str(order.challenge_nonce),
        expires_at=str(order.challenge_expires_at),
    )


# The event of a history step that names none: the status it reached (services/orders/lifecycle.history_entry).
EVENT_OF_STATUS = {
    "awaiting_confirmation": "checked_out",
    "awaiting_payment": "confirmed",
    "risk_review": "held_for_risk_review",
    "placed": "confirmed",
    "paid": "paid",
    "shipped": "shipped",
    "received": "received",
    "completed": "completed",
    "cancelled": "cancelled",
    "overdue": "payment_overdue",
    "returned": "returned",
    "return_requested": "return_requested",
}


def history_event(step: dict[str, str]) -> str:
    return step.get("event") or EVENT_OF_STATUS[step["status"]]


def actor_of(actor: str) -> str:
    """One format: `<kind>:<id>` or `system` (a step written with a bare user id is the buyer's)."""
    return actor if actor == "system" or ":" in actor else f"user:{actor}"


def payment_view(attempt: payments.PaymentAttempt, *, for_buyer: bool) -> OrderPaymentView:
    return OrderPaymentView(
        payment_id=attempt.attempt_id,
        channel=attempt.channel,
        purpose=attempt.purpose,
        amount_fen=int(attempt.amount_fen),
        currency=attempt.currency,
        status=attempt.status,
        refunded_fen=int(attempt.refunded_fen or 0),
        card_last4=attempt.card_last4 if for_buyer else None,
        created_at=attempt.created_at,
        settled_at=attempt.settled_at,
    )


def refund_view(refund: orders.Refund, currency: str) -> OrderRefundView:
    return OrderRefundView(
        refund_id=refund.refund_id,
        reason="cancellation" if refund.refund_id == orders.cancel_refund_id(refund.order_id) else "return",
        channel=refund.channel,
        amount_fen=int(refund.amount_fen),
        currency=currency,
        status=refund.status,
        created_at=refund.created_at,
        settled_at=refund.settled_at,
    )


def order_view(order: orders.Order, *, for_buyer: bool = True, money: orders.Money | None = None) -> OrderView:
    """The whole order with what moved on it (`money`, else read); its open confirmation
    challenge, and the cards that paid, only for the buyer."""
    money = money or orders.money_of(order)
    currency = settings().rules.currency
    open_challenge = (
        for_buyer
        and order.status == orders.AWAITING_CONFIRMATION
        and not order.challenge_used
        and order.challenge_expires_at
        and parse_iso(order.challenge_expires_at) > clock.now()
    )
    return OrderView(
        order_id=order.order_id,
        checkout_id=order.checkout_id,
        merchant_id=order.merchant_id,
        status=order.status,
        payment_method=order.payment_method,
        items=[
            OrderItemView(
                sku_id=i["sku_id"],
                product_id=i["product_id"],
                name=i["name"],
                attributes=dict(i.get("attributes") or {}),
                unit_price_fen=int(i["unit_price_fen"]),
                quantity=int(i["quantity"]),
                line_total_fen=int(i["line_total_fen"]),
            )
            for i in order.items
        ],
        subtotal_fen=int(order.subtotal_fen),
        discount_fen=int(order.discount_fen or 0),
        total_fen=int(order.total_fen),
        credit_reserved_fen=int(order.credit_reserved_fen or 0),
        coupon_id=order.coupon_id,
        address=AddressView(**{k: str(order.address.get(k, "")) for k in ("name", "phone", "line1", "city")}),
        shipment=(
            ShipmentView(carrier=order.carrier, tracking_number=order.tracking_number, shipped_at=order.shipped_at)
            if order.shipped_at and order.carrier and order.tracking_number
            else None
        ),
        received_at=order.received_at,
        history=[
            HistoryView(
                status=h["status"], event=history_event(h), at=h["at"], actor=actor_of(h["actor"]), note=h.get("note")
            )
            for h in order.history or []
        ],
        challenge=challenge_view(order) if open_challenge else None,
        payment_expires_at=order.payment_expires_at,
        due_at=order.due_at,
        amount_due_fen=int(order.amount_due_fen or 0),
        paid_at=order.paid_at,
        paid_channel=order.paid_channel,
        paid_on_time=order.paid_on_time,
        collection_attempts=int(order.collection_attempts or 0),
        currency=currency,
        refunded_fen=int(order.refunded_fen or 0),
        payments=[payment_view(a, for_buyer=for_buyer) for a in money.payments],
        refunds=[refund_view(r, currency) for r in money.refunds],
        created_at=order.created_at,
        updated_at=order.updated_at,
    )


def changed_view(changed: orders.Changed) -> OrderView:
    """The buyer's order as a write left it (rendered in the write's transaction)."""
    return order_view(changed.order, money=changed.money)


def render_checkout(result: CheckoutResult) -> CheckoutView:
    return CheckoutView(
        orders=[
            CheckoutOrderView(
                order_id=o.order_id,
                merchant_id=o.merchant_id,
                status=o.status,
                payment_method=o.payment_method,
                subtotal_fen=int(o.subtotal_fen),
                discount_fen=int(o.discount_fen or 0),
                total_fen=int(o.total_fen),
                challenge=challenge_view(o),
            )
            for o in result.orders
        ]
    )


def render_confirmation(result: Confirmation) -> ConfirmationView | Reply:
    o = result.order
    view = ConfirmationView(
        order_id=o.order_id,
        status=o.status,
        total_fen=int(o.total_fen),
        credit_reserved_fen=int(o.credit_reserved_fen or 0),
        payment=result.payment,
    )
    if o.status == orders.RISK_REVIEW:  # held for a risk operator: accepted, not yet placed
        from ..services import risk

        view.message = risk.decide.REVIEW_MESSAGE
        return Reply(view, status=202)
    return view


def checkout_errors() -> Raises:
    """What a checkout refuses with (its service loads on a checkout, not on an order read)."""
    from ..services import addresses, checkout

    return addresses.NOT_FOUND_ERRORS | checkout.CHECKOUT_ERRORS


def confirmation_errors() -> Raises:
    from ..services import confirmation

    return confirmation.CONFIRM_ERRORS


@router.route(
    "/v1/checkout",
    "POST",
    roles=CONSUMER,
    body=CheckoutIn,
    response=CheckoutView,
    status=201,
    idempotent=True,
    claim_in_tx=True,
    render=render_checkout,
    errors=checkout_errors,
)
def create_checkout(ctx: Ctx) -> CheckoutResult:
    """Check out the selected cart lines or a buy-now list: one order per merchant, each
    awaiting confirmation with a single-use challenge."""
    # a checkout's, not a read's (a cold start: tests/test_cold_start.py)
    from ..services import addresses, checkout, installments

    body: CheckoutIn = ctx.body
    return checkout.checkout(
        ctx.user_id,
        items=[checkout.Line(i.sku_id, i.quantity) for i in body.items] if body.items is not None else None,
        from_cart=bool(body.from_cart),
        payment_method=body.payment_method,
        coupon_id=body.coupon_id,
        # The order keeps a copy: editing the address book later does not change it.
        address=body.address.model_dump() if body.address else addresses.snapshot(ctx.user_id, str(body.address_id)),
        now=clock.now(),
        idem=ctx.idem,
        installment_plan=(
            installments.lifecycle.Request(body.installments.parts, body.installments.schedule_checksum)
            if body.installments
            else None
        ),
    )


@router.route(
    "/v1/orders/{order_id}/confirmation",
    "POST",
    roles=CONSUMER,
    body=ConfirmationIn,
    response=ConfirmationView,
    idempotent=True,
    claim_in_tx=True,
    render=render_confirmation,
    errors=confirmation_errors,
)
def confirm_order(ctx: Ctx, order_id: str) -> Confirmation:
    """Confirm an order with the payment password or a device signature over the nonce.

    先用后付 is decided by the risk rules first: placed (200), held for an operator (202,
    `risk_review`), or declined (402 `bnpl_declined`: the checkout is cancelled)."""
    from ..services import confirmation

    body: ConfirmationIn = ctx.body
    return confirmation.confirm(
        ctx.user_id,
        order_id,
        challenge_id=body.challenge_id,
        password=body.password,
        device_id=body.device_id,
        signature=body.signature,
        now=clock.now(),
        idem=ctx.idem,
    )


@router.route("/v1/orders", "GET", roles=CONSUMER, query=OrdersQuery, response=OrderList)
def list_orders(ctx: Ctx) -> OrderList:
    """The caller's orders, newest first; `status` narrows to one status."""
    q: OrdersQuery = ctx.query
    page = orders.list_orders(ctx.user_id, q.status, q.limit, q.cursor)
    return OrderList(
        items=[
            OrderSummaryView(
                order_id=o.order_id,
                merchant_id=o.merchant_id,
                status=o.status,
                payment_method=o.payment_method,
                total_fen=int(o.total_fen),
                item_count=sum(int(i["quantity"]) for i in o.items),
                created_at=o.created_at,
                due_at=o.due_at,
            )
            for o in page.items
        ],
        next_cursor=page.next_cursor,
    )


@router.route("/v1/orders/{order_id}", "GET", roles=CONSUMER, response=OrderView, errors=orders.NOT_FOUND_ERRORS)
def get_order(ctx: Ctx, order_id: str) -> OrderView:
    """One order: items, amounts, payment method, status and its history, due date."""
    return order_view(orders.get_own(ctx.user_id, order_id))


@router.route(
    "/v1/orders/{order_id}/cancel",
    "POST",
    roles=CONSUMER,
    response=OrderView,
    errors=orders.CANCEL_ERRORS,
    idempotent=True,
    key_optional=True,
    claim_in_tx=True,
    render=changed_view,
)
def cancel_order(ctx: Ctx, order_id: str) -> orders.Changed:
    """Cancel an order before shipment; its stock, credit and coupon are released."""
    return orders.cancel(ctx.user_id, order_id, clock.now(), idem=ctx.idem)
