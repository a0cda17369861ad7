"""Block lists hold keyed hashes of normalised values: a blocked phone or delivery address
written another way (country code, separators, full-width digits, spaces) is still blocked
(an independent tester's findings on the third release)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.test_risk import decision_of, product, risk_post
from tests.conftest import Api, new_key
from tests.support.shopping import ADDRESS, confirm, sku_ids


def buy_to(api: Api, user: str, sku: str, address: dict[str, str]) -> Any:
    body = {"payment_method": "bnpl", "address": address, "items": [{"sku_id": sku, "quantity": 1}]}
    r = api.post("/v1/checkout", body, as_=user, idem=new_key())
    assert r.status_code == 201, r.json
    answer = confirm(api, user, r.json["orders"][0])
    answer.order_id = r.json["orders"][0]["order_id"]
    return answer


@pytest.mark.parametrize(
    ("kind", "field", "variant"),
    [
        ("phone", "phone", "+86 138 0013 8000"),
        ("phone", "phone", "0086-138-0013-8000"),
        ("address", "line1", "朝阳区建国路１号"),  # full-width digit, no spaces
        ("address", "line1", "朝阳区 建国路 1 号"),  # a space more
    ],
)
def test_a_blocked_value_written_another_way_is_still_blocked(
    api: Api, activated_user: str, kind: str, field: str, variant: str
) -> None:
    value = ADDRESS["phone"] if kind == "phone" else f"{ADDRESS['line1']}|{ADDRESS['city']}"
    assert risk_post(api, "/v1/risk/blocklist", {"kind": kind, "value": value, "reason": "fraud"}).status_code == 201
    declined = buy_to(api, activated_user, sku_ids(product(api, 2990))[0], {**ADDRESS, field: variant})
    assert declined.status_code == 402, declined.json
    assert [x["rule_id"] for x in decision_of(declined.order_id).reasons] == ["block_list"]
