"""Installments (分期): an order's schedule."""

from __future__ import annotations

from ..clock import clock
from ..schemas.installments import (
    BillLineView,
    BillPaymentIn,
    BillPaymentLineView,
    BillPaymentView,
    BillView,
    InstallmentsView,
    PartView,
)
from ..services import fulfilment, installments, payments
from ..web import CONSUMER, MERCHANT, SUPPORT, Ctx, Router

router = Router("installments")


def installments_view(found: installments.views.Schedule) -> InstallmentsView:
    plan = found.plan
    return InstallmentsView(
        order_id=found.order.order_id,
        parts_count=plan.parts,
        fee_fen=plan.fee_fen,
        fee_payer=plan.fee_payer,
        apr_bps=plan.apr_bps,
        parts=[
            PartView(
                seq=row.part.seq,
                due_at=row.part.due_at,
                amount_fen=row.part.amount_fen,
                principal_fen=row.part.principal_fen,
                fee_fen=row.part.fee_fen,
                fee_waived_fen=row.part.fee_waived_fen,
                status=row.status,
                paid_at=row.part.paid_at,
            )
            for row in found.parts
        ],
        payoff_fen=found.payoff_fen,
    )


@router.route(
    "/v1/orders/{order_id}/installments",
    "GET",
    roles=CONSUMER,
    response=InstallmentsView,
    errors=installments.views.SCHEDULE_ERRORS,
)
def get_order_installments(ctx: Ctx, order_id: str) -> InstallmentsView:
    """The order's parts (due date, amount, principal and fee share, status) and what paying
    everything now costs (`payoff_fen`: the fee of each part whose month has not begun waived).
    A single payment is a plan of one part."""
    return installments_view(installments.views.own_schedule(ctx.user_id, order_id, clock.now()))


@router.route(
    "/v1/bnpl/bills/{month}",
    "GET",
    roles=CONSUMER,
    response=BillView,
    errors=installments.bills.BILL_ERRORS,
)
def get_bill(ctx: Ctx, month: str) -> BillView:
    """The month's bill (账单, `YYYY-MM`, China time): every part due that month across the
    caller's 先用后付 orders, with the total and what is still unpaid."""
    found = installments.bills.bill(ctx.user_id, month, clock.now())
    return BillView(
        month=found.month,
        lines=[
            BillLineView(
                order_id=line.order.order_id,
                seq=line.row.part.seq,
                due_at=str(line.row.part.due_at),
                amount_fen=line.row.part.amount_fen,
                principal_fen=line.row.part.principal_fen,
                fee_fen=line.row.part.fee_fen,
                status=line.row.status,
            )
            for line in found.lines
        ],
        total_fen=found.total_fen,
        unpaid_fen=found.unpaid_fen,
    )


def render_bill_payment(result: payments.bill_payments.BillPaymentResult) -> BillPaymentView:
    attempt = result.attempt
    return BillPaymentView(
        payment_id=attempt.attempt_id,
        month=result.month,
        channel=attempt.channel,
        amount_fen=int(attempt.amount_fen),
        currency=attempt.currency,
        status=attempt.status,
        lines=[
            BillPaymentLineView(
                order_id=line.order_id,
                seq=line.seq,
                amount_fen=line.amount_fen,
                outcome=result.outcomes.get(line.key, "pending"),
            )
            for line in result.lines
        ],
        refunded_fen=int(attempt.refunded_fen or 0),
        card_last4=attempt.card_last4,
        failure_code=attempt.failure_code,
        created_at=attempt.created_at,
        settled_at=attempt.settled_at,
        launch=result.launch,
    )


@router.route(
    "/v1/bnpl/bills/{month}/payments",
    "POST",
    roles=CONSUMER,
    body=BillPaymentIn,
    response=BillPaymentView,
    status=201,
    idempotent=True,  # money moves: the key is required, as on pay now
    claim_in_tx=True,
    render=render_bill_payment,
    errors=payments.bill_payments.PAY_BILL_ERRORS,
)
def pay_bill(ctx: Ctx, month: str) -> payments.bill_payments.BillPaymentResult:
    """Pay the month's bill (账单) in one charge: every part due that month that its order owes
    now, across orders. The parts and the amount are locked when the payment starts; a part
    paid meanwhile (by the auto-debit or pay now) has its share refunded (`outcome`
    `refunded`). Card: charged now; Alipay / WeChat Pay: `launch` data, the channel's
    notification settles it. A retry after success is 409 `bill_already_paid`."""
    body: BillPaymentIn = ctx.body
    return payments.bill_payments.pay_bill(ctx.user_id, month, body.channel, clock.now(), idem=ctx.idem)


@router.route(
    "/v1/merchant/orders/{order_id}/installments",
    "GET",
    roles=MERCHANT,
    response=InstallmentsView,
    errors=fulfilment.ORDER_ERRORS,
)
def get_merchant_order_installments(ctx: Ctx, order_id: str) -> InstallmentsView:
    """One of the merchant's confirmed orders' schedule (who pays the fee: `fee_payer`)."""
    order = fulfilment.confirmed_order_of_merchant(ctx.user_id, order_id)
    return installments_view(installments.views.schedule(order, clock.now()))


@router.route(
    "/v1/support/orders/{order_id}/installments",
    "GET",
    roles=SUPPORT,
    response=InstallmentsView,
    errors=installments.views.SCHEDULE_ERRORS,
)
def get_support_order_installments(ctx: Ctx, order_id: str) -> InstallmentsView:
    """Any order's schedule, for support (客服) reading a case."""
    return installments_view(installments.views.any_schedule(order_id, clock.now()))
