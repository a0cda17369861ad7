"""A request that loses a race to the same transition gets the answer a later request gets
(`challenge_used`, `illegal_transition`), not the name of an internal guard item
(`event_already_posted`, `already_notified`) — a mobile tester's parallel taps got those.

Each race runs the services in threads that all read before any writes
(`racing_transactions`): certain, not timing-dependent. The services are called directly:
chalice.test.Client shares one current request between threads."""

from __future__ import annotations

from typing import Any

from chalicelib import errors
from chalicelib.clock import clock
from chalicelib.services import fulfilment
from chalicelib.services.aftersale import disputes
from tests.conftest import Api, new_key
from tests.support.aftersale import SUPPORT, escalate, rejected
from tests.support.fulfilment import place, ship
from tests.support.fulfilment import product as product  # noqa: F401  (the fixture)
from tests.support.shopping import ADDRESS, confirming, racing_transactions, run_together


def losers(results: list[Any]) -> list[str]:
    assert sum(not isinstance(r, Exception) for r in results) == 1, results
    assert all(isinstance(r, errors.DomainError) for r in results if isinstance(r, Exception)), results
    return sorted(r.code for r in results if isinstance(r, Exception))


def test_parallel_confirmations_of_one_challenge(api: Api, activated_user: str, product: dict[str, Any]) -> None:
    r = api.post(
        "/v1/checkout",
        {
            "items": [{"sku_id": product["skus"][0]["sku_id"], "quantity": 1}],
            "payment_method": "bnpl",
            "address": ADDRESS,
        },
        as_=activated_user,
        idem=new_key(),
    )
    order = r.json["orders"][0]

    confirm = confirming(activated_user, order)

    with racing_transactions(3, first_only=True):
        results = run_together(confirm, confirm, confirm)
    assert losers(results) == ["challenge_used", "challenge_used"]


def test_parallel_receipts(api: Api, activated_user: str, product: dict[str, Any]) -> None:
    order_id = place(api, activated_user, product)
    ship(api, order_id)

    def receive() -> Any:
        return fulfilment.receive(activated_user, order_id, clock.now())

    with racing_transactions(2, first_only=True):
        results = run_together(receive, receive)
    assert losers(results) == ["illegal_transition"]


def test_parallel_dispute_decisions(api: Api, activated_user: str, product: dict[str, Any]) -> None:
    order_id = place(api, activated_user, product)
    ship(api, order_id)
    api.post(f"/v1/orders/{order_id}/receipt", as_=activated_user)
    rejected(api, activated_user, order_id)
    dispute_id = escalate(api, activated_user, order_id).json["dispute_id"]

    def decide(decision: str) -> Any:
        return lambda: disputes.decide(SUPPORT, dispute_id, decision, "", clock.now())

    with racing_transactions(3, first_only=True):
        results = run_together(decide("refund"), decide("reject"), decide("refund"))
    assert losers(results) == ["illegal_transition", "illegal_transition"]
