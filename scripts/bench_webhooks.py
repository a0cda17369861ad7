"""`make bench` section "webhooks": what events cost the purchase path, and how fast the
delivery worker sends (in process, moto, a receiver on 127.0.0.1)."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from typing import Any


def _confirmation_calls(api: Any, merchant: str, id_number: str) -> tuple[Counter[str], int]:
    """DynamoDB calls of one 先用后付 confirmation, and the items of its transaction."""
    from scripts.bench import recording
    from tests.support.shopping import checkout, confirm, create_product, sku_ids

    buyer = f"u-bench-{uuid.uuid4().hex[:6]}"
    api.post("/v1/me/identity", {"real_name": "张三", "id_number": id_number}, as_=buyer)
    api.post("/v1/me/bank-cards", {"card_number": "6222020200112233446"}, as_=buyer)
    api.put("/v1/me/payment-password", {"password": "135790"}, as_=buyer)
    from chalicelib.config import settings

    api.post("/v1/bnpl/activation", {"agreement_version": settings().rules.agreement_version}, as_=buyer)
    product = create_product(api, merchant)
    order = checkout(api, buyer, [(sku_ids(product)[0], 1)]).json["orders"][0]
    with recording() as calls:
        assert confirm(api, buyer, order).status_code == 200
    items = sum(len(c.params.get("TransactItems", [])) for c in calls if c.op == "TransactWriteItems")
    return Counter(c.op for c in calls), items


def bench_webhooks(events: int) -> list[str]:
    from chalicelib.api.webhook_objects import render
    from chalicelib.clock import clock
    from chalicelib.db import Tx
    from chalicelib.services.webhooks import delivery
    from chalicelib.services.webhooks.outbox import emit
    from scripts.bench import recording, world
    from scripts.webhook_receiver import Receiver
    from tests.api.test_authorization_matrix import ADULT_ID_B
    from tests.conftest import ADULT_ID

    rows: list[str] = []
    receiver = Receiver([]).start()
    try:
        with world() as api:
            plain, plain_items = _confirmation_calls(api, "m-bench-quiet", ADULT_ID)
            made = api.post(
                "/v1/merchant/webhook-endpoints",
                {"url": receiver.url, "events": ["*"]},
                as_="m-bench-hooks",
                roles=["merchant"],
            ).json
            receiver.secrets.append(made["secret"])
            hooked, hooked_items = _confirmation_calls(api, "m-bench-hooks", ADULT_ID_B)
            rows += [
                f"{'confirmation, merchant without endpoints':<48} {sum(plain.values()):>3} calls  {dict(plain)}",
                f"{'confirmation, merchant with an endpoint':<48} {sum(hooked.values()):>3} calls  {dict(hooked)}",
                f"  its one TransactWriteItems holds {hooked_items} items (the event and its timer ride in it;"
                f" {plain_items} without endpoints: the event is written either way)",
            ]
            ids = []
            for n in range(events):
                tx = Tx()
                ids.append(emit(tx, "m-bench-hooks", "ping", {"endpoint_id": made["endpoint_id"], "n": n}, clock.now()))
                tx.commit()
            send = delivery.http_send()
            with recording() as calls:
                start = time.perf_counter()
                for event_id in ids:
                    delivery.deliver("m-bench-hooks", event_id, clock.now(), render, send)
                took = time.perf_counter() - start
            verified = sum(1 for d in receiver.received if d.verified)
            rows += [
                f"delivered {events} events in {took:.2f} s: {events / took:.0f} events/s per worker "
                f"(sequential; {verified} verified by the receiver)",
                f"DynamoDB calls per delivery: {len(calls) / events:.1f} "
                f"({dict(Counter(c.op for c in calls))}, over {events})",
            ]
    finally:
        receiver.stop()
    return rows
