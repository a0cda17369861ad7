"""After-sale beyond the request and its answer: the goods' way back, disputes (平台介入)."""

from __future__ import annotations

from .. import pagination
from ..clock import clock
from ..schemas.aftersale import (
    DisputeCaseView,
    DisputeDecisionIn,
    DisputeIn,
    DisputeList,
    DisputesQuery,
    DisputeView,
    SupportOrderView,
)
from ..schemas.common import ShortListQuery
from ..schemas.fulfilment import ReturnRequestView, ShipmentIn
from ..services import aftersale
from ..web import CONSUMER, MERCHANT, SUPPORT, Ctx, Router
from .fulfilment import return_view
from .messages import message_view
from .orders import order_view

router = Router("aftersale")


def dispute_view(d: aftersale.Dispute) -> DisputeView:
    return DisputeView(
        dispute_id=d.dispute_id,
        order_id=d.order_id,
        request_id=d.request_id,
        user_id=d.user_id,
        merchant_id=d.merchant_id,
        status=d.status,
        reason=d.reason,
        amount_fen=int(d.amount_fen),
        created_at=d.created_at,
        decided_at=d.decided_at,
        decided_by=d.decided_by,
        note=d.note,
        deadline_at=d.deadline_at,
        late=bool(d.late_at),
        late_at=d.late_at,
    )


@router.route(
    "/v1/orders/{order_id}/return-requests/{request_id}/shipment",
    "POST",
    roles=CONSUMER,
    body=ShipmentIn,
    response=ReturnRequestView,
    errors=aftersale.shipments.SHIP_BACK_ERRORS,
    idempotent=True,
    key_optional=True,
    claim_in_tx=True,
    render=return_view,
)
def ship_back(ctx: Ctx, order_id: str, request_id: str) -> aftersale.ReturnRequest:
    """The goods of an approved `return_goods` request are on their way back (carrier and
    tracking number); the merchant has 10 days to confirm their arrival."""
    body: ShipmentIn = ctx.body
    carrier, tracking = body.carrier, body.tracking_number
    return aftersale.shipments.ship_back(
        ctx.user_id, order_id, request_id, carrier, tracking, clock.now(), idem=ctx.idem
    )


@router.route(
    "/v1/merchant/return-requests/{request_id}/arrival",
    "POST",
    roles=MERCHANT,
    response=ReturnRequestView,
    errors=aftersale.shipments.ARRIVAL_ERRORS,
    idempotent=True,
    key_optional=True,
    claim_in_tx=True,
    render=return_view,
)
def confirm_return_arrival(ctx: Ctx, request_id: str) -> aftersale.ReturnRequest:
    """The returned goods arrived: the refund (or credit release) happens now."""
    return aftersale.shipments.confirm_arrival(ctx.user_id, request_id, clock.now(), idem=ctx.idem)


@router.route(
    "/v1/merchant/return-requests/{request_id}/reshipment",
    "POST",
    roles=MERCHANT,
    body=ShipmentIn,
    response=ReturnRequestView,
    errors=aftersale.exchange.RESHIP_ERRORS,
    idempotent=True,
    key_optional=True,
)
def reship_exchange(ctx: Ctx, request_id: str) -> ReturnRequestView:
    """An exchange's replacement is on its way (carrier and tracking number): stock moves to
    the new SKU; the buyer confirms its receipt with `POST /v1/orders/{order_id}/receipt`."""
    body: ShipmentIn = ctx.body
    return return_view(
        aftersale.exchange.reship(ctx.user_id, request_id, body.carrier, body.tracking_number, clock.now())
    )


@router.route(
    "/v1/orders/{order_id}/disputes",
    "POST",
    roles=CONSUMER,
    body=DisputeIn,
    response=DisputeView,
    status=201,
    errors=aftersale.disputes.ESCALATE_ERRORS,
    idempotent=True,
    key_optional=True,
)
def open_dispute(ctx: Ctx, order_id: str) -> DisputeView:
    """Ask the platform to step in (平台介入) on a rejected or stalled return request of the
    order (`request_id`, default the latest escalable one), within 15 days of its rejection;
    collection pauses until support decides."""
    body: DisputeIn = ctx.body
    return dispute_view(aftersale.disputes.escalate(ctx.user_id, order_id, body.reason, clock.now(), body.request_id))


@router.route(
    "/v1/orders/{order_id}/disputes",
    "GET",
    roles=CONSUMER,
    query=ShortListQuery,
    response=DisputeList,
    errors=aftersale.disputes.ORDER_ERRORS,
)
def list_order_disputes(ctx: Ctx, order_id: str) -> DisputeList:
    """The order's disputes, newest first (`limit` pages them)."""
    q: ShortListQuery = ctx.query
    found = aftersale.disputes.order_disputes(ctx.user_id, order_id)
    page, next_cursor = pagination.page_list(found, q.limit, q.cursor, f"disputes:{order_id}")
    return DisputeList(items=[dispute_view(d) for d in page], next_cursor=next_cursor)


@router.route("/v1/support/disputes", "GET", roles=SUPPORT, query=DisputesQuery, response=DisputeList)
def list_disputes(ctx: Ctx) -> DisputeList:
    """Disputes waiting for support (or of `status`), oldest first."""
    q: DisputesQuery = ctx.query
    items, cursor = aftersale.disputes.open_disputes(q.status, q.limit, q.cursor)
    return DisputeList(items=[dispute_view(d) for d in items], next_cursor=cursor)


@router.route(
    "/v1/support/disputes/{dispute_id}",
    "GET",
    roles=SUPPORT,
    response=DisputeCaseView,
    errors=aftersale.cases.CASE_ERRORS,
)
def get_dispute(ctx: Ctx, dispute_id: str) -> DisputeCaseView:
    """The whole case: the dispute, the order and its history, its return requests and messages."""
    case = aftersale.cases.case(dispute_id)
    return DisputeCaseView(
        dispute=dispute_view(case.dispute),
        order=order_view(case.order, for_buyer=False, money=case.money),
        return_requests=[return_view(r) for r in case.requests],
        messages=[message_view(m) for m in case.messages],
    )


@router.route(
    "/v1/support/orders/{order_id}",
    "GET",
    roles=SUPPORT,
    response=SupportOrderView,
    errors=aftersale.cases.ORDER_ERRORS,
)
def get_support_order(ctx: Ctx, order_id: str) -> SupportOrderView:
    """Look an order up: the order with its shipment and history, its return requests,
    disputes and latest messages (the whole thread pages at `/messages`)."""
    case = aftersale.cases.order_case(order_id)
    return SupportOrderView(
        order=order_view(case.order, for_buyer=False, money=case.money),
        return_requests=[return_view(r) for r in case.requests],
        disputes=[dispute_view(d) for d in case.disputes],
        messages=[message_view(m) for m in case.messages],
    )


@router.route(
    "/v1/support/disputes/{dispute_id}/decision",
    "POST",
    roles=SUPPORT,
    body=DisputeDecisionIn,
    response=DisputeView,
    idempotent=True,
    claim_in_tx=True,
    render=dispute_view,
    errors=aftersale.disputes.DECIDE_ERRORS,
)
def decide_dispute(ctx: Ctx, dispute_id: str) -> aftersale.Dispute:
    """Decide once: `refund` (the platform refunds or releases credit and takes the amount
    back from the merchant's payable) or `reject` (collection resumes); support never
    decides a dispute about their own order (403 `own_case`). Both sides are notified."""
    body: DisputeDecisionIn = ctx.body
    return aftersale.disputes.decide(ctx.user_id, dispute_id, body.decision, body.note, clock.now(), idem=ctx.idem)
