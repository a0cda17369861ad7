"""After-sale limits (SPEC "Account closure and after-sale limits"): escalation by request,
goods back to stock, at most two exchanges per line, support's deadline on disputes."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api
from tests.test_aftersale import decide, escalate
from tests.test_aftersale import received as received  # noqa: F401  (the fixture)
from tests.test_fulfilment import product as product  # noqa: F401  (the fixture)


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
