"""The outside tester's second round: pairs of actions on one order or one user raced
through the services (`racing_transactions`: both read before either writes), and the
money checked after: nothing lost, nothing doubled, no 5xx, no illegal state."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from chalicelib import errors, ledger, schedules
from chalicelib.clock import clock
from chalicelib.config import settings
from chalicelib.models.orders import Order
from chalicelib.models.payments import PaymentAttempt
from chalicelib.services import payments
from chalicelib.services.aftersale import requests
from chalicelib.services.installments.state import plan_of
from chalicelib.services.payments import bill_lines, bill_payments
from chalicelib.services.webhooks import endpoints
from tests.conftest import Api, new_key
from tests.support.installments import china_month, plans_of, received_in_parts, return_and_approve, schedule_of
from tests.support.payments import assert_balanced, platform_book
from tests.support.shopping import (
    ADDRESS,
    MERCHANT,
    between_read_and_write,
    confirm,
    racing_transactions,
    run_together,
)


def kept_fen(*refs: str) -> int:
    """What the user's succeeded payments under `refs` kept (charged less refunded)."""
    return sum(
        int(a.amount_fen) - int(a.refunded_fen or 0)
        for ref in refs
        for a in PaymentAttempt.by_order.query(ref)
        if a.status in ("succeeded", "refunded")
    )


def owed_kept(order_id: str) -> int:
    """What the order's plan says was paid (a part's fee is net of what was waived)."""
    plan = plan_of(Order.get(order_id, consistent_read=True))
    assert plan is not None
    return sum(p.amount_fen for p in plan.schedule if p.status == "paid")


def only_domain_errors(results: list[Any]) -> None:
    assert not any(isinstance(r, Exception) and not isinstance(r, errors.DomainError) for r in results), results


def settle_everything() -> None:
    clock.advance(settings().rules.collection_query_seconds + 1)
    schedules.run("close_payment_windows", clock.now())
    schedules.run("process_refunds", clock.now())


def test_paying_everything_while_the_bill_is_paid_keeps_each_part_once(api: Api, activated_user: str) -> None:
    user = activated_user
    oid = received_in_parts(api, user)
    month = china_month(schedule_of(api, user, oid)["parts"][0]["due_at"])
    now = clock.now()
    with racing_transactions(2, first_only=True):
        results = run_together(
            lambda: bill_payments.pay_bill(user, month, "card", now),
            lambda: payments.pay_now(user, oid, "card", now, scope="all"),
        )
    only_domain_errors(results)
    settle_everything()
    shown = schedule_of(api, user, oid)
    assert all(p["status"] in ("paid", "waived") for p in shown["parts"]) or shown["payoff_fen"] > 0, shown
    assert kept_fen(oid, bill_lines.bill_ref(user, month)) == owed_kept(oid), (results, shown)
    assert platform_book("bill_payments") == 0
    assert_balanced()


def test_a_time_at_the_edge_of_the_calendar_is_a_400_not_a_500(api: Api) -> None:
    """`0001-01-01T00:00:00+14:00` is valid RFC 3339 but before year 1 in UTC (and
    `9999-12-31T23:59:59-14:00` after year 9999): converting it overflowed into a 500."""
    merchant = {"as_": MERCHANT, "roles": ["merchant"]}
    made = api.post(
        "/v1/merchant/webhook-endpoints", {"url": "http://127.0.0.1:9/h", "events": ["*"]}, idem=new_key(), **merchant
    )
    assert made.status_code == 201, made.json
    replay = f"/v1/merchant/webhook-endpoints/{made.json['endpoint_id']}/replay"
    for since in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"):
        r = api.post(replay, {"since": since}, idem=new_key(), **merchant)
        assert r.status_code == 400 and r.json["code"] == "validation_failed", (since, r.json)
        r = api.get(f"/v1/merchant/webhook-events?since={quote(since)}", **merchant)
        assert r.status_code == 400 and r.json["code"] == "validation_failed", (since, r.json)


MERCHANT_ROLES = {"as_": MERCHANT, "roles": ["merchant"]}


def an_endpoint(api: Api) -> str:
    made = api.post(
        "/v1/merchant/webhook-endpoints",
        {"url": "http://127.0.0.1:9/h", "events": ["*"]},
        idem=new_key(),
        **MERCHANT_ROLES,
    )
    assert made.status_code == 201, made.json
    return str(made.json["endpoint_id"])


def test_an_endpoint_deleted_while_it_is_edited_or_rolled_is_a_4xx(api: Api) -> None:
    for send, code in (
        (lambda eid: api.put(f"/v1/merchant/webhook-endpoints/{eid}", {"description": "新"}, **MERCHANT_ROLES), 404),
        (lambda eid: api.post(f"/v1/merchant/webhook-endpoints/{eid}/secret", {}, **MERCHANT_ROLES), 409),
    ):
        eid = an_endpoint(api)
        with between_read_and_write("TransactWriteItems", lambda eid=eid: endpoints.delete(MERCHANT, eid)):
            r = send(eid)
        assert r.status_code == code and r.json["code"] in ("webhook_endpoint_not_found", "state_changed"), r.json


def test_two_rolls_of_one_secret_at_once_are_a_409_for_the_later(api: Api) -> None:
    eid = an_endpoint(api)
    with between_read_and_write("TransactWriteItems", lambda: endpoints.roll_secret(MERCHANT, eid, None, clock.now())):
        r = api.post(f"/v1/merchant/webhook-endpoints/{eid}/secret", {}, idem=new_key(), **MERCHANT_ROLES)
    assert r.status_code == 409, r.json


def two_items_shipped_in_parts(api: Api, user: str, *, interest_free: bool) -> str:
    """Two ¥150 items bought in 3 parts (fee ¥6.90: the merchant's if `interest_free`), shipped."""
    body: dict[str, Any] = {"name": "耳机", "skus": [{"attributes": {"颜色": "白"}, "price_fen": 15_000, "stock": 20}]}
    if interest_free:
        body["interest_free_parts"] = [3]
    product = api.post("/v1/merchant/products", body, **MERCHANT_ROLES).json
    quote = plans_of(api, user, 30_000, product["product_id"])[3]
    assert quote["fee_fen"] == 690
    body = {
        "items": [{"sku_id": product["skus"][0]["sku_id"], "quantity": 2}],
        "payment_method": "bnpl",
        "address": ADDRESS,
        "installments": {"parts": 3, "schedule_checksum": quote["schedule_checksum"]},
    }
    order = api.post("/v1/checkout", body, as_=user, idem=new_key()).json["orders"][0]
    oid = str(order["order_id"])
    assert confirm(api, user, order).json["status"] == "placed"
    shipment = {"carrier": "SF", "tracking_number": "SF1234567890"}
    assert api.post(f"/v1/merchant/orders/{oid}/shipment", shipment, **MERCHANT_ROLES).status_code == 200
    return oid


def test_an_interest_free_fee_is_charged_on_what_is_left_after_a_return_before_receipt(
    api: Api, activated_user: str
) -> None:
    """One of two items is refunded while the order is still on its way, then the other is
    received: the merchant pays the 免息 fee of the ¥150 sold (¥3.45), not of the ¥300 bought."""
    user = activated_user
    oid = two_items_shipped_in_parts(api, user, interest_free=True)
    return_and_approve(api, user, oid, 1)  # refunded before receipt: the order is shipped again
    assert api.post(f"/v1/orders/{oid}/receipt", as_=user).json["status"] == "received"
    payable = ledger.merchant_account(MERCHANT)
    assert ledger.leg_amount(payable, f"order:{oid}:merchant_installment_fee", ledger.PAYABLE) == -345


def test_a_receipt_that_read_the_order_before_a_return_settled_does_not_undo_it(api: Api, activated_user: str) -> None:
    """The receipt reads the shipped order; a return of one item is asked and approved (the
    order pauses, then is shipped again) before the receipt writes: the receipt must not
    write back the plan it read, with the returned item's parts still in it."""
    user = activated_user
    oid = two_items_shipped_in_parts(api, user, interest_free=False)
    sku = Order.get(oid).items[0]["sku_id"]

    def return_one() -> None:
        asked = requests.request_return(user, oid, "不想要了", [requests.ReturnLine(sku, 1)], clock.now())
        requests.decide_return(MERCHANT, asked.request_id, True, "好的", clock.now())

    with between_read_and_write("TransactWriteItems", return_one):
        r = api.post(f"/v1/orders/{oid}/receipt", as_=user)
    assert r.status_code in (200, 409), r.json
    plan = plan_of(Order.get(oid, consistent_read=True))
    assert plan is not None
    assert sum(p.principal_fen for p in plan.schedule) == 15_000, plan.schedule
    assert ledger.balances(ledger.user_account(user))[ledger.CREDIT].balance == 15_000
