"""After-sale limits (SPEC "Account closure and after-sale limits"): escalation by request,
goods back to stock, at most two exchanges per line, support's deadline on disputes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib import timers
from chalicelib.clock import clock
from chalicelib.observability import metrics
from tests.conftest import Api, new_key
from tests.support.aftersale import (
    M,
    S,
    advance,
    decide,
    escalate,
    exchange_for,
    exchanged_goods_back,
    rules,
    ship_back,
    stock,
)
from tests.support.aftersale import received as received  # noqa: F401  (the fixture)
from tests.support.aftersale import tees as tees  # noqa: F401  (the fixture)
from tests.support.fulfilment import place, ship
from tests.support.fulfilment import product as product  # noqa: F401  (the fixture)


def ask_lines(
    api: Api, user: str, order_id: str, sku_id: str, kind: str = "refund_only", **line: Any
) -> dict[str, Any]:
    body = {"reason": "不合适", "kind": kind, "items": [{"sku_id": sku_id, "quantity": 1, **line}]}
    r = api.post(f"/v1/orders/{order_id}/return-requests", body, as_=user)
    assert r.status_code == 201, r.json
    return dict(r.json)


def skus_of(api: Api, user: str, order_id: str) -> list[str]:
    return [i["sku_id"] for i in api.get(f"/v1/orders/{order_id}", as_=user).json["items"]]


def test_a_later_request_does_not_take_away_the_right_to_escalate_a_rejected_one(
    api: Api, activated_user: str, received: str
) -> None:
    a, b = skus_of(api, activated_user, received)
    first = ask_lines(api, activated_user, received, a)
    assert decide(api, first["request_id"], "reject").status_code == 200
    second = ask_lines(api, activated_user, received, b)
    assert decide(api, second["request_id"], "approve").status_code == 200
    r = escalate(api, activated_user, received)  # no request named: the latest escalable one
    assert r.status_code == 201, r.json
    assert r.json["request_id"] == first["request_id"]


def test_a_dispute_names_the_request_it_escalates(api: Api, activated_user: str, received: str) -> None:
    a, b = skus_of(api, activated_user, received)
    first = ask_lines(api, activated_user, received, a)
    assert decide(api, first["request_id"], "reject").status_code == 200
    second = ask_lines(api, activated_user, received, b)
    assert decide(api, second["request_id"], "approve").status_code == 200
    url = f"/v1/orders/{received}/disputes"
    r = api.post(url, {"reason": "质量问题", "request_id": second["request_id"]}, as_=activated_user)
    assert r.status_code == 409 and r.json["code"] == "not_escalable", r.json  # approved: nothing to escalate
    r = api.post(url, {"reason": "质量问题", "request_id": "ret_nope"}, as_=activated_user)
    assert r.status_code == 404 and r.json["code"] == "return_request_not_found", r.json
    r = api.post(url, {"reason": "质量问题", "request_id": first["request_id"]}, as_=activated_user)
    assert r.status_code == 201 and r.json["request_id"] == first["request_id"], r.json


# --- goods back to stock, and the exchange limit ---------------------------------------------------


def test_returned_goods_go_back_to_stock_on_arrival(api: Api, activated_user: str, tees: dict[str, Any]) -> None:
    order_id = place(api, activated_user, tees, qty=(2, 0, 0))  # type: ignore[arg-type]
    ship(api, order_id)
    api.post(f"/v1/orders/{order_id}/receipt", as_=activated_user)
    assert stock(api, tees) == [8, 10, 10]
    request_id = ask_lines(api, activated_user, order_id, tees["skus"][0]["sku_id"], "return_goods")["request_id"]
    decide(api, request_id, "approve")
    ship_back(api, activated_user, order_id, request_id)
    assert stock(api, tees) == [8, 10, 10]  # on its way: not yet sellable
    r = api.post(f"/v1/merchant/return-requests/{request_id}/arrival", **M)
    assert r.status_code == 200 and r.json["status"] == "refunded", r.json
    assert stock(api, tees) == [9, 10, 10]


def test_goods_the_sweep_takes_as_arrived_go_back_to_stock(api: Api, activated_user: str, tees: dict[str, Any]) -> None:
    order_id = place(api, activated_user, tees, qty=(1, 0, 0))  # type: ignore[arg-type]
    ship(api, order_id)
    api.post(f"/v1/orders/{order_id}/receipt", as_=activated_user)
    request_id = ask_lines(api, activated_user, order_id, tees["skus"][0]["sku_id"], "return_goods")["request_id"]
    decide(api, request_id, "approve")
    ship_back(api, activated_user, order_id, request_id)
    clock.advance(rules().aftersale_arrival_seconds + 1)
    assert advance()["processed"] == 1
    assert stock(api, tees) == [10, 10, 10]


def test_an_exchange_ending_in_a_refund_restocks_the_goods_and_holds_no_replacement(
    api: Api, activated_user: str, tees: dict[str, Any]
) -> None:
    exchanged_goods_back(api, activated_user, tees)
    assert stock(api, tees) == [10, 10, 10]  # the M is back; the L is not taken before it ships
    clock.advance(rules().aftersale_answer_seconds + 1)
    assert advance()["processed"] == 1  # never reshipped: refunded
    assert stock(api, tees) == [10, 10, 10]


def exchange_round(api: Api, user: str, order_id: str, sku: str, to: str) -> None:
    r = exchange_for(api, user, order_id, sku, to)
    assert r.status_code == 201, r.json
    request_id = r.json["request_id"]
    decide(api, request_id, "approve")
    ship_back(api, user, order_id, request_id)
    api.post(f"/v1/merchant/return-requests/{request_id}/arrival", **M)
    body = {"carrier": "SF", "tracking_number": "SF5555555555"}
    assert api.post(f"/v1/merchant/return-requests/{request_id}/reshipment", body, **M).status_code == 200
    # (No time passes between rounds: a replacement received at the instant of the last receipt.)
    assert api.post(f"/v1/orders/{order_id}/receipt", as_=user).status_code == 200


def test_an_order_line_is_exchanged_at_most_twice(api: Api, activated_user: str, tees: dict[str, Any]) -> None:
    m, lg, _ = (s["sku_id"] for s in tees["skus"])
    order_id = place(api, activated_user, tees, qty=(1, 0, 0))  # type: ignore[arg-type]
    ship(api, order_id)
    api.post(f"/v1/orders/{order_id}/receipt", as_=activated_user)
    exchange_round(api, activated_user, order_id, m, lg)
    exchange_round(api, activated_user, order_id, lg, m)
    r = exchange_for(api, activated_user, order_id, m, lg)
    assert r.status_code == 409 and r.json["code"] == "exchange_limit_reached", r.json
    assert stock(api, tees) == [9, 10, 10]  # one M sold, every swap undone in stock
    # A return of the line is still possible.
    assert ask_lines(api, activated_user, order_id, m)["status"] == "pending"


# --- support's deadline -----------------------------------------------------------------------------


def emitted(capsys: pytest.CaptureFixture[str], metric: str) -> int:
    docs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    return sum(1 for d in docs if metric in d)


def test_a_dispute_undecided_for_five_days_is_marked_late_and_alarms_but_stays_open(
    api: Api,
    activated_user: str,
    received: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a, _ = skus_of(api, activated_user, received)
    first = ask_lines(api, activated_user, received, a)
    decide(api, first["request_id"], "reject")
    dispute = escalate(api, activated_user, received).json
    assert dispute["late"] is False and dispute["deadline_at"]
    clock.advance(rules().dispute_decision_seconds - 60)
    advance()
    assert api.get("/v1/support/disputes", **S).json["items"][0]["late"] is False
    clock.advance(120)
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    metrics.cache_clear()
    capsys.readouterr()
    try:
        advance()
        advance()  # a second run marks nothing again
    finally:
        metrics.cache_clear()
    assert emitted(capsys, "DisputesLate") == 1
    [listed] = api.get("/v1/support/disputes", **S).json["items"]
    assert listed["dispute_id"] == dispute["dispute_id"] and listed["late"] is True and listed["status"] == "open"
    r = api.post(f"/v1/support/disputes/{dispute['dispute_id']}/decision", {"decision": "reject"}, idem=new_key(), **S)
    assert r.status_code == 200 and r.json["status"] == "rejected", r.json


def test_a_decision_in_time_leaves_no_deadline_timer(api: Api, activated_user: str, received: str) -> None:
    a, _ = skus_of(api, activated_user, received)
    decide(api, ask_lines(api, activated_user, received, a)["request_id"], "reject")
    dispute = escalate(api, activated_user, received).json
    assert [t.kind for t in timers.live(dispute["dispute_id"])] == [timers.DISPUTE_DECISION]
    api.post(f"/v1/support/disputes/{dispute['dispute_id']}/decision", {"decision": "reject"}, idem=new_key(), **S)
    assert timers.live(dispute["dispute_id"]) == []


def test_a_rejected_request_is_not_escalable_once_the_whole_order_was_returned(
    api: Api, activated_user: str, received: str
) -> None:
    """Found by `make soak`: a request for line A rejected, then every line returned by a later
    request; escalating the first moved the returned order back to return_requested, so a
    dispute decided for the buyer could refund line A a second time. Nothing is left to dispute."""
    a, b = skus_of(api, activated_user, received)
    first = ask_lines(api, activated_user, received, a)
    assert decide(api, first["request_id"], "reject").status_code == 200
    body = {"reason": "不合适", "kind": "refund_only"}
    whole = api.post(f"/v1/orders/{received}/return-requests", body, as_=activated_user)
    assert whole.status_code == 201, whole.json
    assert decide(api, whole.json["request_id"], "approve").status_code == 200
    order = api.get(f"/v1/orders/{received}", as_=activated_user).json
    assert order["status"] == "returned", order
    url = f"/v1/orders/{received}/disputes"
    r = api.post(url, {"reason": "质量问题", "request_id": first["request_id"]}, as_=activated_user)
    assert r.status_code == 409 and r.json["code"] == "illegal_transition", r.json
    assert api.get(f"/v1/orders/{received}", as_=activated_user).json["status"] == "returned"


def test_a_rejected_request_escalated_after_part_of_its_goods_came_back_refunds_only_the_rest(
    api: Api, activated_user: str, received: str
) -> None:
    """Found by `make soak` (an order of ¥133.34 refunded ¥200.01): the whole order asked back
    and rejected, one unit returned by a later request, then the first escalated and refunded
    by support. The dispute refunded the first request's goods as priced when it was asked,
    the returned unit among them, a second time. It gives back only what is left of them."""
    a, _ = skus_of(api, activated_user, received)  # the fixture's order: 2 × a and 1 × b
    total = api.get(f"/v1/orders/{received}", as_=activated_user).json["total_fen"]
    whole = api.post(f"/v1/orders/{received}/return-requests", {"reason": "不合适"}, as_=activated_user)
    assert whole.status_code == 201 and whole.json["amount_fen"] == total, whole.json
    assert decide(api, whole.json["request_id"], "reject").status_code == 200
    one = ask_lines(api, activated_user, received, a)
    assert decide(api, one["request_id"], "approve").status_code == 200
    body = {"reason": "质量问题", "request_id": whole.json["request_id"]}
    dispute = api.post(f"/v1/orders/{received}/disputes", body, as_=activated_user)
    assert dispute.status_code == 201, dispute.json
    assert dispute.json["amount_fen"] == total - one["amount_fen"], dispute.json  # what is left, not the whole
    url = f"/v1/support/disputes/{dispute.json['dispute_id']}/decision"
    r = api.post(url, {"decision": "refund", "note": ""}, idem=new_key(), **S)
    assert r.status_code == 200, r.json
    order = api.get(f"/v1/orders/{received}", as_=activated_user).json
    assert order["status"] == "returned" and order["refunded_fen"] == total, order
    assert order["amount_due_fen"] == 0, order


def test_a_rejected_request_whose_goods_all_came_back_since_is_not_escalable(
    api: Api, activated_user: str, received: str
) -> None:
    """A request for one unit of a rejected, then that unit returned by a later request while
    the rest of the order is kept: nothing of the first request is left to dispute."""
    a, _ = skus_of(api, activated_user, received)
    first = ask_lines(api, activated_user, received, a)
    assert decide(api, first["request_id"], "reject").status_code == 200
    body = {"reason": "不合适", "kind": "refund_only", "items": [{"sku_id": a, "quantity": 2}]}
    both = api.post(f"/v1/orders/{received}/return-requests", body, as_=activated_user)
    assert both.status_code == 201, both.json
    assert decide(api, both.json["request_id"], "approve").status_code == 200
    url = f"/v1/orders/{received}/disputes"
    r = api.post(url, {"reason": "质量问题", "request_id": first["request_id"]}, as_=activated_user)
    assert r.status_code == 409 and r.json["code"] == "not_escalable", r.json
    assert escalate(api, activated_user, received).status_code == 409  # nor picked as the latest escalable one
    assert api.get(f"/v1/orders/{received}", as_=activated_user).json["status"] == "received"
