"""Order messages (联系商家客服): the consumer and the merchant write about one order.

- Each side sees only its own orders' threads (another's is a 404, like a missing one);
  support reads any thread. A merchant sees nothing of an order before the buyer confirms
  it: its thread is a 404 like its detail, and a buyer's message then notifies nobody.
- Text: at most 1,000 characters, control characters removed, blank refused; stored as
  sent and returned exactly as sent (every client renders it as text).
- Each message notifies the other side in the transaction that writes it.
- A thread lists newest first, cursor-paginated.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from pynamodb.exceptions import DoesNotExist

from .. import errors, pagination
from ..clock import iso
from ..db import Tx
from ..models.messages import CONSUMER as CONSUMER
from ..models.messages import MERCHANT as MERCHANT
from ..models.messages import OrderMessage as OrderMessage
from ..models.orders import Order
from . import fulfilment, notifications, orders, webhooks

if TYPE_CHECKING:
    from ..idempotency import IdemScope

THREAD_ERRORS = orders.NOT_FOUND_ERRORS
SEND_ERRORS = orders.NOT_FOUND_ERRORS | errors.raises(unprocessable=["invalid_message_text"])


@dataclass(frozen=True)
class MessagePage:
    items: list[OrderMessage]
    next_cursor: str | None


def order_for(side: str, caller_id: str, order_id: str) -> Order:
    """The order whose thread `caller_id` may see as `side` (consumer, merchant or support)."""
    if side == CONSUMER:
        return orders.get_own(caller_id, order_id)
    if side == MERCHANT:
        return fulfilment.confirmed_order_of_merchant(caller_id, order_id)
    try:
        return Order.get(order_id, consistent_read=True)
    except DoesNotExist as exc:
        raise orders.order_not_found() from exc


def clean_text(text: str) -> str:
    body = fulfilment.clean_review_text(text)
    if not body:
        raise errors.unprocessable(
            "invalid_message_text",
            "the message needs some text",
            [errors.FieldError("text", "empty after removing control characters")],
        )
    return body


def send(
    side: str, caller_id: str, order_id: str, text: str, now: datetime, idem: IdemScope | None = None
) -> OrderMessage:
    """Write a message on the order's thread and notify the other side, in one transaction."""
    order = order_for(side, caller_id, order_id)
    message_id = "msg_" + uuid.uuid4().hex[:20]
    message = OrderMessage(
        order.order_id,
        f"{iso(now)}#{message_id}",
        message_id=message_id,
        user_id=order.user_id,
        author=side,
        author_id=caller_id,
        text=clean_text(text),
        created_at=iso(now),
    )
    recipient = order.merchant_id if side == CONSUMER else order.user_id
    who = "买家 (the buyer)" if side == CONSUMER else "商家 (the merchant)"
    tx = Tx()
    tx.save(message, condition=OrderMessage.message_key.does_not_exist())
    if order.confirmed_at:  # before that, the order is not the merchant's business
        webhooks.emit(tx, order.merchant_id, webhooks.types.MESSAGE_CREATED, message, now)
        # The text stays out of the notification (it may be pushed through SNS): the app opens the thread.
        notifications.notify(
            tx,
            recipient,
            notifications.ORDER_MESSAGE,
            "新消息 (new message)",
            f"{who} wrote about order {order.order_id}",
            order.order_id,
            f"order_message:{message_id}",
            now,
        )
    if idem is not None:
        idem.stage(tx, message)
    tx.commit()
    return message


def thread(side: str, caller_id: str, order_id: str, limit: int, cursor: str | None) -> MessagePage:
    """The order's messages, newest first."""
    order = order_for(side, caller_id, order_id)
    scope = f"order-messages:{order.order_id}"
    result = OrderMessage.query(
        order.order_id,
        scan_index_forward=False,
        limit=limit,
        page_size=limit,
        last_evaluated_key=pagination.decode(cursor, scope),
        consistent_read=True,
    )
    items = list(result)
    return MessagePage(items, pagination.encode(result.last_evaluated_key, scope))
