"""Paying through the simulated channels: notifications posted as a channel would, the books
checked balanced, a top-up."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from typing import Any

from chalicelib import ledger
from chalicelib.clock import clock
from chalicelib.db import Tx
from chalicelib.ledger import CASH, PLATFORM, Leg, user_account
from chalicelib.models.ledger import Entry
from tests.conftest import Api
from tests.support import channel_sim as sim


def assert_balanced() -> None:
    for event_id, legs in ledger_events().items():
        assert sum(int(e.amount) for e in legs) == 0, event_id


def platform_book(book: str) -> int:
    return sum(int(e.amount) for e in Entry.scan() if e.account.startswith("platform#") and e.book == book)


def post_raw(api: Api, path: str, body: bytes | str, headers: dict[str, str]) -> Any:
    """POST as a channel does (no token); the answer may be plain text."""
    resp = api.client.http.request(method="POST", path=path, headers=headers, body=body)
    text = resp.body.decode() if isinstance(resp.body, bytes) else resp.body
    resp.text = text
    try:
        resp.json = json.loads(text) if text else None
    except ValueError:
        resp.json = None
    return resp


def post_alipay(api: Api, params: dict[str, str]) -> Any:
    return post_raw(
        api,
        "/v1/channels/alipay/notify",
        sim.form(params),
        {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )


def top_up(user: str, amount: int) -> None:
    """Wallet cash the way a redemption credits it (rewards expense against cash)."""
    tx = Tx()
    ledger.post(
        tx,
        event_id=f"test-topup:{uuid.uuid4().hex}",
        kind="redemption_credited",
        at=clock.now(),
        legs=[Leg(user_account(user), CASH, amount), Leg(PLATFORM, "rewards_expense", -amount)],
    )
    tx.commit()


def ledger_events() -> dict[str, list[Entry]]:
    events: dict[str, list[Entry]] = defaultdict(list)
    for e in Entry.scan():
        events[e.event_id].append(e)
    return events


def paid_alipay_order(api: Api, user: str = "u-alipay", amount_fen: int = 12_345) -> str:
    """An order paid through Alipay (its notification posted as the channel would)."""
    from chalicelib.services import payments

    order_id = sim.awaiting_payment_order(api, user, amount_fen, "alipay")
    launch = payments.start_channel_payment("alipay", order_id=order_id, user_id=user, amount_fen=amount_fen)
    params = sim.alipay_params(launch["out_trade_no"], amount_fen)
    assert post_alipay(api, sim.alipay_sign(params)).status_code == 200
    assert api.get(f"/v1/orders/{order_id}", as_=user).json["status"] == "paid"
    return order_id
