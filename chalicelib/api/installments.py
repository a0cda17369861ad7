"""Installments (分期): an order's schedule."""

from __future__ import annotations

from ..clock import clock
from ..schemas.installments import BillLineView, BillView, InstallmentsView, PartView
from ..services import fulfilment, installments
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
