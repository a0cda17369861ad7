"""What support reads: an order's whole case (the order, its return requests, disputes,
refunds, payments and latest messages), or a dispute's, in three calls (issue 29: an
order's case was 5 calls, 7 with refunds; a dispute's 5).

- An order's requests are named by the order and their place (`records.nth_request_id`),
  a dispute by its request and order (`disputes.dispute_id_for`): the order is read with
  its first requests, their disputes and the refunds it may owe in one BatchGet. The order
  records its requests and disputes (`Order.return_ids`, `dispute_ids`): any beyond those
  read are one more BatchGet. Its payment attempts and its messages are a query each.
- A dispute's id names its order and request (`disputes.ids_in`): the dispute, the order,
  the request and the refunds it may owe are one BatchGet.
- An order whose first request came before the record (or a dispute whose id names
  nothing) reads them by query or by an extra GetItem, as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from pynamodb.models import Model

from ... import batch
from ...models.aftersale import Dispute, Refund, ReturnRequest, cancel_refund_id, return_refund_id
from ...models.messages import OrderMessage
from ...models.orders import Order
from ...models.payments import PaymentAttempt
from .. import orders
from . import disputes
from .records import PROBED_REQUESTS, nth_request_id, of_order

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


Read = dict[tuple[type[Model], str], Model | None]  # what a BatchGet read, found or not


def order_case(order_id: str) -> OrderCase:
    """What support looks up by order id: the order (with its history), its return
    requests, disputes (newest first), what moved on it and its latest 100 messages. The
    order's first requests, their disputes and the refunds it may owe are read with it."""
    probed = [nth_request_id(order_id, n) for n in range(1, PROBED_REQUESTS + 1)]
    read = _read_with(
        order_id,
        [
            *((ReturnRequest, r) for r in probed),
            *((Dispute, disputes.dispute_id_for(order_id, r)) for r in probed),
            *((Refund, return_refund_id(r)) for r in probed),
        ],
    )
    order = read[(Order, order_id)]
    if not isinstance(order, Order):
        raise orders.order_not_found()
    after = _after_sale(order, read)
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
    also: list[tuple[type[Model], str]] = [(ReturnRequest, rid), (Refund, return_refund_id(rid))]
    read = _read_with(oid, also if dispute is not None else [*also, (Dispute, dispute_id)])
    if dispute is None:
        found = read[(Dispute, dispute_id)]
        if not isinstance(found, Dispute) or (found.order_id, found.request_id) != (oid, rid):
            raise disputes.not_found()
        dispute = found
    order = read[(Order, oid)]
    if not isinstance(order, Order):
        raise disputes.not_found()
    after = _after_sale(order, read, with_disputes=False)
    return Case(dispute, order, after.requests, _messages_of(order), _money(order, after.refunds))


def _read_with(order_id: str, keys: list[tuple[type[Model], str]]) -> Read:
    """The order, the refund of its cancellation and `keys`, in one BatchGet."""
    wanted: list[tuple[type[Model], str]] = [(Order, order_id), (Refund, cancel_refund_id(order_id)), *keys]
    return dict(zip(wanted, batch.get_many([(m, k, None) for m, k in wanted]), strict=True))


def _after_sale(order: Order, read: Read, *, with_disputes: bool = True) -> _AfterSale:
    """The order's requests and disputes (newest first) and the refunds owed on it: those
    `read` already holds, the rest in one BatchGet (or by query, for an order from before
    it recorded its requests)."""
    refunded = int(order.refunded_fen or 0) > 0
    if order.return_ids is None and order.last_return_id is not None:  # from before the record
        requests = of_order(order.user_id, order.order_id)
        found = (
            list(Dispute.by_order.query(order.order_id, scan_index_forward=False, limit=100)) if with_disputes else []
        )
        refunds = _refunds(order, [r.request_id for r in requests]) if refunded else []
        return _AfterSale(requests, found, refunds)
    request_ids = list(order.return_ids or [])
    wanted: list[tuple[type[Model], str]] = [
        *((ReturnRequest, i) for i in request_ids),
        *((Dispute, i) for i in (order.dispute_ids or []) if with_disputes),
        *((Refund, i) for i in [cancel_refund_id(order.order_id), *map(return_refund_id, request_ids)] if refunded),
    ]
    missing = [k for k in wanted if k not in read]
    if missing:
        read = {**read, **dict(zip(missing, batch.get_many([(m, k, None) for m, k in missing]), strict=True))}
    got = [read[k] for k in wanted]
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
