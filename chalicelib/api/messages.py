"""Order messages: consumer ↔ merchant about one order (联系商家客服); support reads them."""

from __future__ import annotations

from ..clock import clock
from ..schemas.common import PageQuery
from ..schemas.messages import MessageIn, MessageList, MessageView
from ..services import messages
from ..web import CONSUMER, MERCHANT, SUPPORT, Ctx, Router

router = Router("messages")
SUPPORT_SIDE = "support"


def message_view(m: messages.OrderMessage) -> MessageView:
    return MessageView(
        message_id=m.message_id,
        order_id=m.order_id,
        author=m.author,
        text=m.text,
        created_at=m.created_at,
    )


def _thread(ctx: Ctx, side: str, order_id: str) -> MessageList:
    q: PageQuery = ctx.query
    page = messages.thread(side, ctx.user_id, order_id, q.limit, q.cursor)
    return MessageList(items=[message_view(m) for m in page.items], next_cursor=page.next_cursor)


def _send(ctx: Ctx, side: str, order_id: str) -> messages.OrderMessage:
    body: MessageIn = ctx.body
    return messages.send(side, ctx.user_id, order_id, body.text, clock.now(), idem=ctx.idem)


@router.route(
    "/v1/orders/{order_id}/messages",
    "GET",
    roles=CONSUMER,
    query=PageQuery,
    response=MessageList,
    errors=messages.THREAD_ERRORS,
)
def list_order_messages(ctx: Ctx, order_id: str) -> MessageList:
    """The order's conversation with the merchant, newest first."""
    return _thread(ctx, messages.CONSUMER, order_id)


@router.route(
    "/v1/orders/{order_id}/messages",
    "POST",
    roles=CONSUMER,
    body=MessageIn,
    response=MessageView,
    status=201,
    errors=messages.SEND_ERRORS,
    claim_in_tx=True,
    render=message_view,
)
def send_order_message(ctx: Ctx, order_id: str) -> messages.OrderMessage:
    """Write to the merchant about the order (≤ 1,000 characters); the merchant is notified."""
    return _send(ctx, messages.CONSUMER, order_id)


@router.route(
    "/v1/merchant/orders/{order_id}/messages",
    "GET",
    roles=MERCHANT,
    query=PageQuery,
    response=MessageList,
    errors=messages.THREAD_ERRORS,
)
def list_merchant_order_messages(ctx: Ctx, order_id: str) -> MessageList:
    """The order's conversation with the buyer, newest first."""
    return _thread(ctx, messages.MERCHANT, order_id)


@router.route(
    "/v1/merchant/orders/{order_id}/messages",
    "POST",
    roles=MERCHANT,
    body=MessageIn,
    response=MessageView,
    status=201,
    errors=messages.SEND_ERRORS,
    claim_in_tx=True,
    render=message_view,
)
def send_merchant_order_message(ctx: Ctx, order_id: str) -> messages.OrderMessage:
    """Answer the buyer about the order (≤ 1,000 characters); the buyer is notified."""
    return _send(ctx, messages.MERCHANT, order_id)


@router.route(
    "/v1/support/orders/{order_id}/messages",
    "GET",
    roles=SUPPORT,
    query=PageQuery,
    response=MessageList,
    errors=messages.THREAD_ERRORS,
)
def support_order_messages(ctx: Ctx, order_id: str) -> MessageList:
    """Platform support (快手客服) reads any order's conversation (read-only), newest first."""
    return _thread(ctx, SUPPORT_SIDE, order_id)
