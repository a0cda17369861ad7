"""What support reads: an order's whole case (the order, its return requests, disputes,
refunds, payments and latest messages), or a dispute's, in as few calls as the order allows
(issue 29: an order's case was 5 calls, 7 with refunds; a dispute's 5).

- The order records its return requests and disputes (`Order.return_ids`, `dispute_ids`),
  so they and the refunds owed on them are read by key in one BatchGet; an order that never
  had a request reads none. Its payment attempts and its messages are a query each.
- A dispute's id names its order and request (`disputes.ids_in`): the dispute, the order,
  the request and the refunds it may owe are one BatchGet.
- An order whose first request came before the record (or a dispute whose id names
  nothing) reads them by query or by an extra GetItem, as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from pynamodb.exceptions import DoesNotExist

from ... import batch
from ...models.aftersale import Dispute, Refund, ReturnRequest, cancel_refund_id, return_refund_id
from ...models.messages import OrderMessage
from ...models.orders import Order
from ...models.payments import PaymentAttempt
from .. import orders
from . import disputes
from .records import of_order

CASE_ERRORS = disputes.NOT_FOUND_ERRORS
ORDER_ERRORS = disputes.ORDER_ERRORS
LATEST_MESSAGES = 100
R = TypeVar("R", ReturnRequest, Dispute)


@dataclass(frozen=True)
class Case:
    dispute: Dispute
    order: Order
    requests: list[ReturnRequest]
    messages: list[OrderMessage]
    money: orders.Money


@dataclass(frozen=True)
class OrderCase:
    order: Order
    requests: list[ReturnRequest]
    disputes: list[Dispute]
    messages: list[OrderMessage]
    money: orders.Money


@dataclass(frozen=True)
class _AfterSale:
    requests: list[ReturnRequest]
    disputes: list[Dispute]
    refunds: list[Refund]


def order_case(order_id: str) -> OrderCase:
    """What support looks up by order id: the order (with its history), its return
    requests, disputes (newest first), what moved on it and its latest 100 messages."""
    try:
        order = Order.get(order_id, consistent_read=True)
    except DoesNotExist as exc:
        raise orders.order_not_found() from exc
    after = _after_sale(order)
    return OrderCase(order, after.requests, after.disputes, _messages_of(order), _money(order, after.refunds))


def case(dispute_id: str) -> Case:
    """The whole case: the dispute, the order (with its history), its requests, what moved on
    it and its messages. A dispute's id names its order and request (`disputes.ids_in`), so
    the dispute is read with them and the refunds they may owe; an older id is read first.
    An order with other requests reads them after."""
    named = disputes.ids_in(dispute_id)
    dispute: Dispute | None = None
    if named is None:
        dispute = disputes.get(dispute_id)
        named = (dispute.order_id, dispute.request_id)
    oid, rid = named
    keys: list[batch.Key] = [
        (Order, oid, None),
        (ReturnRequest, rid, None),
        (Refund, cancel_refund_id(oid), None),
        (Refund, return_refund_id(rid), None),
    ]
    got = batch.get_many([(Dispute, dispute_id, None), *keys] if dispute is None else keys)
    if dispute is None:
        found = got.pop(0)
        if not isinstance(found, Dispute) or (found.order_id, found.request_id) != (oid, rid):
            raise disputes.not_found()
        dispute = found
    order, request = got[0], got[1]
    if not isinstance(order, Order):
        raise disputes.not_found()
    if order.return_ids == [rid] and isinstance(request, ReturnRequest):
        refunds = [r for r in got[2:] if isinstance(r, Refund)] if int(order.refunded_fen or 0) else []
        after = _AfterSale([request], [], refunds)
    else:
        after = _after_sale(order, with_disputes=False)
    return Case(dispute, order, after.requests, _messages_of(order), _money(order, after.refunds))


def _after_sale(order: Order, *, with_disputes: bool = True) -> _AfterSale:
    """The order's requests and disputes (newest first) and the refunds owed on it."""
    refunded = int(order.refunded_fen or 0) > 0
    if order.return_ids is None and order.last_return_id is not None:  # from before the record
        requests = of_order(order.user_id, order.order_id)
        found = (
            list(Dispute.by_order.query(order.order_id, scan_index_forward=False, limit=100)) if with_disputes else []
        )
        refunds = _refunds(order, [r.request_id for r in requests]) if refunded else []
        return _AfterSale(requests, found, refunds)
    request_ids = list(order.return_ids or [])
    dispute_ids = list(order.dispute_ids or []) if with_disputes else []
    refund_ids = [cancel_refund_id(order.order_id), *map(return_refund_id, request_ids)] if refunded else []
    keys: list[batch.Key] = [
        *((ReturnRequest, i, None) for i in request_ids),
        *((Dispute, i, None) for i in dispute_ids),
        *((Refund, i, None) for i in refund_ids),
    ]
    got = batch.get_many(keys) if keys else []
    return _AfterSale(
        _newest_first([x for x in got if isinstance(x, ReturnRequest)]),
        _newest_first([x for x in got if isinstance(x, Dispute)]),
        [x for x in got if isinstance(x, Refund)],
    )


def _newest_first(items: Sequence[R]) -> list[R]:
    """As the indexes list them: newest first (the later recorded first among equal times)."""
    return sorted(reversed(items), key=lambda x: str(x.created_key), reverse=True)


def _refunds(order: Order, request_ids: Sequence[str]) -> list[Refund]:
    keys = [cancel_refund_id(order.order_id), *map(return_refund_id, request_ids)]
    return [r for r in batch.get_many([(Refund, k, None) for k in keys]) if isinstance(r, Refund)]


def _money(order: Order, refunds: Sequence[Refund]) -> orders.Money:
    """What moved on the order (as `orders.money_of` reads it), with the refunds already read."""
    attempts = sorted(PaymentAttempt.by_order.query(order.order_id), key=lambda a: int(a.attempt_no))
    return orders.Money(attempts, sorted(refunds, key=lambda r: (r.created_at, r.refund_id)))


def _messages_of(order: Order) -> list[OrderMessage]:
    return list(OrderMessage.query(order.order_id, scan_index_forward=False, limit=LATEST_MESSAGES))
