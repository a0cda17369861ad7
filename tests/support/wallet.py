"""Builders for the wallet tests: 先用后付 orders written as `Order` items (checkout and
collection are other issues) and the rewards the collection code would grant."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from chalicelib import ledger
from chalicelib.clock import clock, iso
from chalicelib.db import Tx
from chalicelib.models.orders import BNPL, PAID, Order
from chalicelib.models.users import User
from chalicelib.services import accounts, rewards
from chalicelib.services.orders.order_index import merchant_key


def paid_order(user_id: str, amount_fen: int, *, method: str = BNPL, refunded_fen: int = 0) -> Order:
    now = clock.now()
    oid = "ord_" + uuid.uuid4().hex[:16]
    order = Order(
        oid,
        checkout_id="chk_" + oid,
        user_id=user_id,
        merchant_id="m-1",
        merchant_key=merchant_key("m-1", oid),
        created_key=f"{iso(now)}#{oid}",
        status=PAID,
        payment_method=method,
        items=[{"sku_id": "sku-1", "quantity": 1, "unit_price_fen": amount_fen, "line_total_fen": amount_fen}],
        subtotal_fen=amount_fen,
        total_fen=amount_fen,
        amount_due_fen=amount_fen,
        address={"name": "收货人", "phone": "13800000000", "line1": "街道1号", "city": "北京"},
        created_at=iso(now),
        updated_at=iso(now),
        paid_on_time=True,
        refunded_fen=refunded_fen,
    )
    order.save()
    return order


def earn(user_id: str, amount_fen: int, now: datetime | None = None) -> Order:
    """Pay a 先用后付 order on time the way collection does: rewards in the same tx."""
    accounts.get_or_create(user_id, clock.now())
    order = paid_order(user_id, amount_fen)
    tx = Tx()
    change = rewards.on_paid_on_time(tx, order, now or clock.now())
    change.apply(tx, accounts.get(user_id))
    tx.commit()
    return order


def refund(order: Order, refund_fen: int) -> None:
    """A merchant-agreed refund: rewards reversed with the order's refunded total raised."""
    order = Order.get(order.order_id, consistent_read=True)
    tx = Tx()
    rewards.on_refunded(tx, order, refund_fen, clock.now())
    tx.update(
        order,
        [Order.refunded_fen.add(refund_fen)],
        condition=Order.refunded_fen == order.refunded_fen,
    )
    tx.commit()


def balance(user_id: str, book: str) -> int:
    item = ledger.balances(ledger.user_account(user_id)).get(book)
    return int(item.balance) if item else 0


def set_user(user_id: str, **fields: Any) -> None:
    user = accounts.get(user_id)
    user.update(actions=[getattr(User, k).set(v) for k, v in fields.items()])


def sqs_event(bodies: list[Any], ids: list[str] | None = None) -> dict[str, Any]:
    """An SQS Lambda event with distinct message ids (chalice's generator repeats one)."""
    ids = ids or [f"msg-{uuid.uuid4().hex[:12]}" for _ in bodies]
    return {
        "Records": [
            {
                "messageId": mid,
                "receiptHandle": f"rh-{mid}",
                "body": body if isinstance(body, str) else json.dumps(body),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:cn-north-1:123456789012:review",
                "awsRegion": "cn-north-1",
            }
            for mid, body in zip(ids, bodies, strict=True)
        ]
    }
