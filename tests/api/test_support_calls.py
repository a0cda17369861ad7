"""Support's reads in three DynamoDB calls (issue 29): a dispute's id names its order and
request, and an order's requests are named by the order, so a case is one BatchGet (the
order, its requests, disputes and refunds) and two queries (payments, messages)."""

from __future__ import annotations

from typing import Any

from chalicelib.models.aftersale import Dispute
from chalicelib.models.orders import Order
from chalicelib.services.aftersale.records import PROBED_REQUESTS
from tests.conftest import Api, new_key
from tests.support.aftersale import S, escalate, rejected
from tests.support.aftersale import received as received  # noqa: F401  (the fixture)
from tests.support.fulfilment import product as product  # noqa: F401  (the fixture)
from tests.support.payments import paid_alipay_order
from tests.support.shopping import dynamodb_calls


def read(api: Api, path: str, most: int) -> Any:
    assert api.get("/v1/support/disputes", **S).status_code == 200  # support's profile seen (made on first sight)
    with dynamodb_calls() as calls:
        r = api.get(path, **S)
    assert r.status_code == 200, r.json
    assert sum(calls.values()) <= most, calls
    return r.json


def test_an_order_without_after_sale_is_looked_up_in_three_calls(api: Api, received: str) -> None:  # noqa: F811
    looked_up = read(api, f"/v1/support/orders/{received}", 3)
    assert (looked_up["return_requests"], looked_up["disputes"]) == ([], [])


def test_a_cancelled_paid_order_is_looked_up_with_its_refund(api: Api) -> None:
    order_id = paid_alipay_order(api)
    assert api.post(f"/v1/orders/{order_id}/cancel", as_="u-alipay", idem=new_key()).status_code == 200
    looked_up = read(api, f"/v1/support/orders/{order_id}", 3)
    buyer = api.get(f"/v1/orders/{order_id}", as_="u-alipay").json
    assert looked_up["order"]["refunds"] == buyer["refunds"] and buyer["refunds"][0]["reason"] == "cancellation"


def test_a_dispute_case_is_three_calls_before_and_after_its_refund(
    api: Api,
    activated_user: str,
    received: str,  # noqa: F811
) -> None:
    """Regression: the case read the dispute, then the order, then queried its requests,
    messages and payments (5 calls); the order lookup queried its requests and disputes
    (5 calls, 7 once refunded: the refunds' requests were queried again)."""
    request = rejected(api, activated_user, received)
    api.post(f"/v1/orders/{received}/messages", {"text": "质量问题"}, as_=activated_user)
    dispute_id = escalate(api, activated_user, received).json["dispute_id"]
    case = read(api, f"/v1/support/disputes/{dispute_id}", 3)
    assert [r["request_id"] for r in case["return_requests"]] == [request["request_id"]]
    assert [m["text"] for m in case["messages"]] == ["质量问题"] and case["dispute"]["dispute_id"] == dispute_id
    looked_up = read(api, f"/v1/support/orders/{received}", 3)
    assert [d["dispute_id"] for d in looked_up["disputes"]] == [dispute_id]
    assert {k: looked_up[k] for k in ("order", "return_requests", "messages")} == {
        k: case[k] for k in ("order", "return_requests", "messages")
    }
    body = {"decision": "refund", "note": "质量问题属实"}
    assert api.post(f"/v1/support/disputes/{dispute_id}/decision", body, idem=new_key(), **S).status_code == 200
    refunded = read(api, f"/v1/support/disputes/{dispute_id}", 3)
    buyer = api.get(f"/v1/orders/{received}", as_=activated_user).json
    shown = refunded["order"]
    assert (shown["refunds"], shown["refunded_fen"]) == (buyer["refunds"], buyer["refunded_fen"])
    assert buyer["refunded_fen"] > 0 and refunded["return_requests"][0]["status"] == "refunded"
    again = read(api, f"/v1/support/orders/{received}", 3)
    assert {k: again[k] for k in ("order", "return_requests", "messages")} == {
        k: refunded[k] for k in ("order", "return_requests", "messages")
    }
    assert again["disputes"] == [refunded["dispute"]]


def test_an_order_from_before_the_record_reads_its_case_by_query(
    api: Api,
    activated_user: str,
    received: str,  # noqa: F811
) -> None:
    """An order whose requests began before it recorded them, and a dispute whose id names
    nothing, answer as they did."""
    rejected(api, activated_user, received)
    dispute_id = escalate(api, activated_user, received).json["dispute_id"]
    case = api.get(f"/v1/support/disputes/{dispute_id}", **S).json
    looked_up = api.get(f"/v1/support/orders/{received}", **S).json
    Order(received).update(actions=[Order.return_ids.remove(), Order.dispute_ids.remove()])
    assert api.get(f"/v1/support/orders/{received}", **S).json == looked_up
    older = Dispute.get(dispute_id)
    older.delete()
    older.dispute_id, older.created_key = "dsp_0123456789abcdef0123", f"{older.created_at}#dsp_0123456789abcdef0123"
    older.save()
    again = api.get(f"/v1/support/disputes/{older.dispute_id}", **S).json
    assert again | {"dispute": case["dispute"]} == case and again["dispute"]["dispute_id"] == older.dispute_id


def test_an_order_with_more_requests_than_read_with_it_reads_the_rest(
    api: Api,
    activated_user: str,
    received: str,  # noqa: F811
) -> None:
    """Requests beyond the ones read with the order (`records.PROBED_REQUESTS`) are one
    more BatchGet, newest first as before."""
    asked = [rejected(api, activated_user, received)["request_id"] for _ in range(PROBED_REQUESTS + 1)]
    dispute_id = escalate(api, activated_user, received).json["dispute_id"]
    looked_up = read(api, f"/v1/support/orders/{received}", 4)
    assert [r["request_id"] for r in looked_up["return_requests"]] == asked[::-1]
    assert [d["dispute_id"] for d in looked_up["disputes"]] == [dispute_id]
    case = read(api, f"/v1/support/disputes/{dispute_id}", 4)
    assert case["return_requests"] == looked_up["return_requests"]
