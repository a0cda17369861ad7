"""Fulfilment and after-sale: shipment, receipt, returns, reviews, settlements."""

from __future__ import annotations

from typing import Any

from .. import pagination
from ..clock import clock
from ..schemas.common import PageQuery, ShortListQuery
from ..schemas.fulfilment import (
    MerchantOrdersQuery,
    PublicReviewView,
    ReturnDecisionIn,
    ReturnLineView,
    ReturnRequestIn,
    ReturnRequestList,
    ReturnRequestsQuery,
    ReturnRequestView,
    ReviewIn,
    ReviewList,
    ReviewsWritten,
    ReviewView,
    SettlementEntryView,
    SettlementsView,
    ShipmentIn,
)
from ..schemas.orders import OrderList, OrderSummaryView, OrderView
from ..services import aftersale, fulfilment, orders, payouts
from ..web import CONSUMER, MERCHANT, PUBLIC, Ctx, Router
from .orders import changed_view, order_view

router = Router("fulfilment")
PAYOUT_KINDS = frozenset({payouts.SENT, payouts.RETURNED})  # their ref is the payout, not an order


def summary_view(order: orders.Order) -> OrderSummaryView:
    return OrderSummaryView(
        order_id=order.order_id,
        merchant_id=order.merchant_id,
        status=order.status,
        payment_method=order.payment_method,
        total_fen=int(order.total_fen),
        item_count=sum(int(i["quantity"]) for i in order.items),
        created_at=order.created_at,
        due_at=order.due_at,
    )


def return_view(r: Any) -> ReturnRequestView:
    return ReturnRequestView(
        request_id=r.request_id,
        order_id=r.order_id,
        kind=r.kind or "refund_only",
        status=r.status,
        reason=r.reason,
        items=[
            ReturnLineView(
                sku_id=i["sku_id"],
                name=i.get("name"),
                attributes=dict(i.get("attributes") or {}),
                quantity=int(i["quantity"]),
                amount_fen=int(i["amount_fen"]),
                to_sku_id=i.get("to_sku_id"),
                to_attributes=i.get("to_attributes"),
            )
            for i in r.items
        ],
        amount_fen=int(r.amount_fen),
        note=r.note,
        created_at=r.created_at,
        decided_at=r.decided_at,
        return_carrier=r.return_carrier,
        return_tracking_number=r.return_tracking_number,
        shipped_back_at=r.shipped_back_at,
        arrived_at=r.arrived_at,
        closed_at=r.closed_at,
        escalated_at=r.escalated_at,
        reship_carrier=r.reship_carrier,
        reship_tracking_number=r.reship_tracking_number,
        reshipped_at=r.reshipped_at,
        exchanged_at=r.exchanged_at,
    )


def review_view(r: fulfilment.Review) -> ReviewView:
    return ReviewView(
        product_id=r.product_id,
        order_id=r.order_id,
        sku_id=r.sku_id,
        rating=int(r.rating),
        text=r.text,
        created_at=r.created_at,
    )


def public_review_view(r: fulfilment.Review) -> PublicReviewView:
    return PublicReviewView(
        product_id=r.product_id,
        sku_id=r.sku_id,
        rating=int(r.rating),
        text=r.text,
        created_at=r.created_at,
    )


# --- merchant ------------------------------------------------------------------------------------


@router.route("/v1/merchant/orders", "GET", roles=MERCHANT, query=MerchantOrdersQuery, response=OrderList)
def list_merchant_orders(ctx: Ctx) -> OrderList:
    """The merchant's orders, newest first; `status` narrows to one status."""
    q: MerchantOrdersQuery = ctx.query
    items, cursor = fulfilment.merchant_orders(ctx.user_id, q.status, q.limit, q.cursor)
    return OrderList(items=[summary_view(o) for o in items], next_cursor=cursor)


@router.route(
    "/v1/merchant/orders/{order_id}", "GET", roles=MERCHANT, response=OrderView, errors=fulfilment.ORDER_ERRORS
)
def get_merchant_order(ctx: Ctx, order_id: str) -> OrderView:
    """One of the merchant's orders: what to ship (items, the delivery address), the
    shipment, totals and history; another merchant's order, or a checkout the buyer has not
    confirmed, is a 404."""
    return order_view(fulfilment.confirmed_order_of_merchant(ctx.user_id, order_id), for_buyer=False)


@router.route(
    "/v1/merchant/orders/{order_id}/shipment",
    "POST",
    roles=MERCHANT,
    body=ShipmentIn,
    response=OrderView,
    errors=fulfilment.SHIP_ERRORS,
    claim_in_tx=True,
    render=lambda changed: order_view(changed.order, for_buyer=False, money=changed.money),
)
def ship_order(ctx: Ctx, order_id: str) -> orders.Changed:
    """Ship a placed 先用后付 order or a paid channel order (carrier and tracking number)."""
    body: ShipmentIn = ctx.body
    return fulfilment.ship(ctx.user_id, order_id, body.carrier, body.tracking_number, clock.now(), idem=ctx.idem)


@router.route(
    "/v1/merchant/return-requests", "GET", roles=MERCHANT, query=ReturnRequestsQuery, response=ReturnRequestList
)
def list_return_requests(ctx: Ctx) -> ReturnRequestList:
    """Return requests for the merchant's orders, newest first (beside the contract: the
    merchant needs the request ids to decide)."""
    q: ReturnRequestsQuery = ctx.query
    items, cursor = aftersale.requests.merchant_returns(ctx.user_id, q.status, q.limit, q.cursor)
    return ReturnRequestList(items=[return_view(r) for r in items], next_cursor=cursor)


@router.route(
    "/v1/merchant/return-requests/{request_id}/decision",
    "POST",
    roles=MERCHANT,
    body=ReturnDecisionIn,
    response=ReturnRequestView,
    errors=aftersale.requests.DECIDE_ERRORS,
    idempotent=True,
    key_optional=True,
    claim_in_tx=True,
    render=return_view,
)
def decide_return(ctx: Ctx, request_id: str) -> aftersale.ReturnRequest:
    """Approve or reject a pending return request: `refund_only` refunds (or releases credit)
    at once, `return_goods` waits for the goods to come back; a rejection resumes collection."""
    body: ReturnDecisionIn = ctx.body
    approve = body.decision == "approve"
    return aftersale.requests.decide_return(ctx.user_id, request_id, approve, body.note, clock.now(), idem=ctx.idem)


@router.route("/v1/merchant/settlements", "GET", roles=MERCHANT, query=PageQuery, response=SettlementsView)
def list_settlements(ctx: Ctx) -> SettlementsView:
    """What the platform owes the merchant: the payable balance and its entries, newest first."""
    q: PageQuery = ctx.query
    payable_fen, entries, cursor = payouts.settlements(ctx.user_id, q.limit, q.cursor)
    return SettlementsView(
        payable_fen=payable_fen,
        items=[
            SettlementEntryView(
                event_id=e.event_id,
                kind=e.event_kind,
                order_id=None if e.event_kind in PAYOUT_KINDS else e.ref,
                payout_id=e.ref if e.event_kind in PAYOUT_KINDS else None,
                amount_fen=int(e.amount),
                posted_at=e.posted_at,
            )
            for e in entries
        ],
        next_cursor=cursor,
    )


# --- consumer --------------------------------------------------------------------------------------


@router.route(
    "/v1/orders/{order_id}/return-requests",
    "GET",
    roles=CONSUMER,
    query=ShortListQuery,
    response=ReturnRequestList,
    errors=orders.NOT_FOUND_ERRORS,
)
def list_order_return_requests(ctx: Ctx, order_id: str) -> ReturnRequestList:
    """The order's return requests, newest first: where each stands (e.g. `awaiting_return`:
    ship the goods back), the return and replacement tracking numbers (`limit` pages them)."""
    q: ShortListQuery = ctx.query
    orders.get_own(ctx.user_id, order_id)
    found = aftersale.records.of_order(ctx.user_id, order_id)
    page, next_cursor = pagination.page_list(found, q.limit, q.cursor, f"return_requests:{order_id}")
    return ReturnRequestList(items=[return_view(r) for r in page], next_cursor=next_cursor)


@router.route(
    "/v1/orders/{order_id}/receipt",
    "POST",
    roles=CONSUMER,
    response=OrderView,
    errors=fulfilment.RECEIVE_ERRORS,
    idempotent=True,
    key_optional=True,
    claim_in_tx=True,
    render=changed_view,
)
def confirm_receipt(ctx: Ctx, order_id: str) -> orders.Changed:
    """Confirm receipt (确认收货); a 先用后付 order's payment window opens. During an exchange:
    receipt of the replacement, and the window restarts."""
    return fulfilment.receive(ctx.user_id, order_id, clock.now(), idem=ctx.idem)


@router.route(
    "/v1/orders/{order_id}/return-requests",
    "POST",
    roles=CONSUMER,
    body=ReturnRequestIn,
    response=ReturnRequestView,
    status=201,
    errors=aftersale.requests.REQUEST_ERRORS,
    idempotent=True,
    key_optional=True,
    claim_in_tx=True,
    render=return_view,
)
def request_return(ctx: Ctx, order_id: str) -> aftersale.ReturnRequest:
    """Ask for a return (all remaining goods, or the listed items) of a `kind`: `refund_only`
    (default), `return_goods` or `exchange` (each item with its `to_sku_id`: same product and
    price); collection pauses meanwhile, the merchant answers in 48 h."""
    body: ReturnRequestIn = ctx.body
    lines = (
        [aftersale.requests.ReturnLine(i.sku_id, i.quantity, i.to_sku_id) for i in body.items] if body.items else None
    )
    return aftersale.requests.request_return(
        ctx.user_id, order_id, body.reason, lines, clock.now(), body.kind, idem=ctx.idem
    )


@router.route(
    "/v1/orders/{order_id}/review",
    "POST",
    roles=CONSUMER,
    body=ReviewIn,
    response=ReviewsWritten,
    status=201,
    errors=fulfilment.REVIEW_ERRORS,
    claim_in_tx=True,
    render=lambda reviews: ReviewsWritten(items=[review_view(r) for r in reviews]),
)
def review_order(ctx: Ctx, order_id: str) -> list[fulfilment.Review]:
    """Rate 1-5 and review the goods after receipt, once per order item."""
    body: ReviewIn = ctx.body
    return fulfilment.write_review(
        ctx.user_id, order_id, body.rating, body.text, body.sku_id, clock.now(), idem=ctx.idem
    )


@router.route("/v1/products/{product_id}/reviews", "GET", roles=PUBLIC, query=PageQuery, response=ReviewList)
def list_reviews(ctx: Ctx, product_id: str) -> ReviewList:
    """A product's reviews, newest first (beside the contract's summary on the product page);
    public, so nothing in an item or the cursor identifies the buyer or their order."""
    q: PageQuery = ctx.query
    scope = f"reviews:{product_id}"
    items, last = fulfilment.list_reviews(product_id, q.limit, pagination.decode(q.cursor, scope))
    return ReviewList(items=[public_review_view(r) for r in items], next_cursor=pagination.encode(last, scope))
