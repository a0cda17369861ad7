"""Return requests as records: loading them (a missing or another merchant's is a 404) and
their own conditional status steps."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from pynamodb.attributes import ListAttribute
from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.update import Action

from ... import errors
from ...db import Tx
from ...models.aftersale import ReturnRequest
from ...models.orders import Order


def not_found() -> errors.DomainError:
    return errors.not_found("return_request_not_found", "no such return request")


NOT_FOUND_ERRORS = errors.raises(not_found=["return_request_not_found"])
MOVE_ERRORS = errors.raises(conflict=["illegal_transition"])


def load(request_id: str) -> ReturnRequest:
    try:
        return ReturnRequest.get(request_id, consistent_read=True)
    except DoesNotExist as exc:
        raise not_found() from exc


def of_order(user_id: str, order_id: str) -> list[ReturnRequest]:
    """An order's return requests, newest first (through the buyer's index: a buyer has few)."""
    return list(
        ReturnRequest.by_user.query(
            user_id, filter_condition=ReturnRequest.order_id == order_id, scan_index_forward=False
        )
    )


PROBED_REQUESTS = 2  # an order's first requests, read with it by key (services/aftersale/cases.py)


def nth_request_id(order_id: str, n: int) -> str:
    """The id of an order's n-th return request (1-based), for orders that record theirs."""
    return "ret_" + hashlib.sha256(f"{order_id}#return#{n}".encode()).hexdigest()[:20]


def request_id_for(order: Order) -> str:
    """The order's next request id: named by the order and the request's place, so support
    reads the order's first requests (and their disputes and refunds) with the order in one
    BatchGet; a random one for an order whose requests began before it recorded them."""
    if order.return_ids is None and order.last_return_id is not None:
        return "ret_" + uuid.uuid4().hex[:20]
    return nth_request_id(order.order_id, len(order.return_ids or []) + 1)


def recorded(order: Order, ids: ListAttribute[str], new_id: str) -> list[Action]:
    """`new_id` added to the order's record of its requests or disputes (`Order.return_ids`,
    `Order.dispute_ids`), set from the order as read: the order's own conditional step in the
    same transaction excludes a concurrent one. None for an order whose requests began before
    it kept the record (`return_ids` null once a request was made): support queries those."""
    if order.return_ids is None and order.last_return_id is not None:
        return []
    return [ids.set([*(getattr(order, ids.attr_name) or []), new_id])]


def return_request_of_merchant(merchant_id: str, request_id: str) -> ReturnRequest:
    request = load(request_id)
    if request.merchant_id != merchant_id:
        raise not_found()
    return request


def move(tx: Tx, request: ReturnRequest, frm: str, to: str, *actions: Any) -> None:
    """The request's own conditional step `frm` → `to` (a second, racing step is a 409)."""
    tx.update(
        request,
        [ReturnRequest.status.set(to), *actions],
        condition=ReturnRequest.status == frm,
        on_fail=errors.conflict("illegal_transition", f"this return request is no longer {frm}"),
    )
    request.status = to
