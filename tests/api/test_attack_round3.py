"""The outside tester's third round, against the third release (installments, risk decisions,
merchant webhooks): each test is a defect found by an attack, failing before its fix."""

from __future__ import annotations

import pytest

from chalicelib import ledger, schedules
from chalicelib.clock import clock
from chalicelib.models.risk import RiskDecision
from chalicelib.services.risk import decide, signals
from tests.conftest import Api, new_key
from tests.support import channel_sim as sim
from tests.support.collection import pay, received_order
from tests.support.installments import received_in_parts, return_and_approve, schedule_of
from tests.support.shopping import MERCHANT, checkout, confirm, create_product, sku_ids


def points_of(user: str) -> int:
    found = ledger.balances(ledger.user_account(user)).get(ledger.POINTS)
    return int(found.balance) if found is not None else 0


def refunds_run() -> None:
    schedules.run("process_refunds", clock.now())


def test_points_of_parts_paid_follow_the_money_back_on_a_full_return(api: Api, activated_user: str) -> None:
    """Part 1 paid on time earns 1 point per yuan of its principal; a full return refunds that
    principal, so the points go too (they were kept: buy, pay a part, return, farm points)."""
    user = activated_user
    oid = received_in_parts(api, user)
    paid = api.post(f"/v1/orders/{oid}/payments", {"channel": "card"}, as_=user, idem=new_key())
    assert paid.status_code == 201, paid.json
    assert points_of(user) == 100
    return_and_approve(api, user, oid)
    refunds_run()
    assert api.get(f"/v1/orders/{oid}", as_=user).json["status"] == "returned"
    assert points_of(user) == 0


def test_points_of_a_plan_paid_off_follow_the_money_back_on_a_full_return(api: Api, activated_user: str) -> None:
    user = activated_user
    oid = received_in_parts(api, user)
    paid = api.post(f"/v1/orders/{oid}/payments", {"channel": "card", "scope": "all"}, as_=user, idem=new_key())
    assert paid.status_code == 201, paid.json
    assert points_of(user) == 300 and schedule_of(api, user, oid)["payoff_fen"] == 0
    return_and_approve(api, user, oid)
    refunds_run()
    assert points_of(user) == 0


def test_the_shops_own_merchant_cannot_approve_a_held_order_of_their_shop(api: Api, activated_user: str) -> None:
    """A person who is both a risk operator and the shop's merchant (roles are per person)
    would approve orders held against their own shop; a dispute already refuses its merchant."""
    product = create_product(api, skus=[{"attributes": {"规格": "标准"}, "price_fen": 40_000, "stock": 3}])
    order = checkout(api, activated_user, [(sku_ids(product)[0], 1)]).json["orders"][0]
    assert confirm(api, activated_user, order).status_code == 202  # a first order above ¥300: review
    path = f"/v1/risk/reviews/{decide.decision_id(order['order_id'])}/decision"
    own = api.post(path, {"decision": "approve", "note": "mine"}, as_=MERCHANT, roles=["risk"], idem=new_key())
    assert own.status_code == 403 and own.json["code"] == "own_case", own.json
    assert api.get(f"/v1/orders/{order['order_id']}", as_=activated_user).json["status"] == "risk_review"


@pytest.mark.parametrize(
    "variant",
    [
        "朝阳区，建国路1号。|北京",  # punctuation added (full-width comma, full stop)
        "朝阳区·建国路1号|北京",  # a middle dot
        "朝阳区建国路1号!|北京",
        "朝阳区建国路1—号|北京",  # a dash
    ],
)
def test_an_address_written_with_punctuation_is_the_same_address(variant: str) -> None:
    """A blocked (or counted) delivery address dodged by a comma or a full stop: the list and
    the velocity counters know an address by its keyed hash, so one spelling per address."""
    assert signals.value_hash("address", variant) == signals.value_hash("address", "朝阳区建国路 1 号|北京")


def confirmed(api: Api, user: str, price: int) -> str:
    product = create_product(api, skus=[{"attributes": {"规格": "标准"}, "price_fen": price, "stock": 5}])
    order = checkout(api, user, [(sku_ids(product)[0], 1)]).json["orders"][0]
    assert confirm(api, user, order).status_code == 200
    return str(order["order_id"])


def test_the_median_is_of_orders_paid_so_orders_cancelled_cannot_raise_it(api: Api, activated_user: str) -> None:
    """SPEC: "this amount over the user's median paid order". Confirmed then cancelled orders
    counted: a buyer raised the median with orders they cancelled, then bought ~3× it unreviewed."""
    user = activated_user
    for _ in range(2):
        oid = confirmed(api, user, 25_000)
        assert api.post(f"/v1/orders/{oid}/cancel", as_=user).status_code == 200
    inputs = decide_inputs(confirmed(api, user, 2_990))
    assert inputs["median_order_fen"] == 0 and inputs["amount_over_median_pct"] == 0, inputs
    paid = received_order(api, user, 12_900)
    assert pay(api, user, paid, "card").status_code == 201
    assert decide_inputs(confirmed(api, user, 2_990))["median_order_fen"] == 12_900


def decide_inputs(order_id: str) -> dict[str, int]:
    return dict(RiskDecision.get(decide.decision_id(order_id), consistent_read=True).inputs)


def test_a_first_order_declined_in_review_does_not_make_the_next_one_not_first(api: Api, activated_user: str) -> None:
    """The operator declines a buyer's first ¥400 order; the buyer orders ¥400 again at once:
    it is still their first 先用后付 order (none stands), so it is held again, not approved."""
    user = activated_user
    product = create_product(api, skus=[{"attributes": {"规格": "标准"}, "price_fen": 40_000, "stock": 5}])
    order = checkout(api, user, [(sku_ids(product)[0], 1)]).json["orders"][0]
    assert confirm(api, user, order).status_code == 202
    path = f"/v1/risk/reviews/{decide.decision_id(order['order_id'])}/decision"
    declined = api.post(path, {"decision": "decline", "note": "不像本人"}, as_="risk-op-1", roles=["risk"])
    assert declined.status_code == 200, declined.json
    again = checkout(api, user, [(sku_ids(product)[0], 1)]).json["orders"][0]
    held = confirm(api, user, again)
    assert held.status_code == 202 and held.json["status"] == "risk_review", held.json


def test_an_operator_cannot_allow_list_themselves_nor_take_themselves_off_the_block_list(
    api: Api, activated_user: str
) -> None:
    """An operator who also shops would let their own orders past every rule (the allow list
    comes first), or lift their own block: nobody decides their own case."""
    me = {"as_": activated_user, "roles": ["risk"]}
    own = {"kind": "user", "value": activated_user, "reason": "VIP", "list": "allow"}
    allowed = api.post("/v1/risk/blocklist", own, idem=new_key(), **me)
    assert allowed.status_code == 403 and allowed.json["code"] == "own_case", allowed.json
    blocked = api.post("/v1/risk/blocklist", {**own, "list": "block"}, as_="risk-op-1", roles=["risk"])
    assert blocked.status_code == 201, blocked.json
    entry = f"/v1/risk/blocklist/{blocked.json['entry_id']}"
    lifted = api.delete(entry, **me)
    assert lifted.status_code == 403 and lifted.json["code"] == "own_case", lifted.json
    assert api.delete(entry, as_="risk-op-1", roles=["risk"]).status_code == 204


def test_a_block_listed_card_cannot_become_the_card_collection_charges(api: Api, activated_user: str) -> None:
    """The decision looks at the default card when the order is confirmed; the window's close
    charges the default card then. Switching to a block-listed (stolen) card after an approved
    confirmation made the platform collect from it."""
    user = activated_user
    stolen = sim.luhn_card("621226", "7001")
    bound = api.post("/v1/me/bank-cards", {"card_number": stolen}, as_=user)
    assert bound.status_code == 201 and bound.json["is_default"] is False, bound.json
    listed = {"kind": "card", "value": stolen, "reason": "stolen"}
    assert api.post("/v1/risk/blocklist", listed, as_="risk-op-1", roles=["risk"]).status_code == 201
    assert confirmed(api, user, 2_990)  # the default card is not listed: approved
    switched = api.put(f"/v1/me/bank-cards/{bound.json['card_id']}/default", as_=user, idem=new_key())
    assert switched.status_code == 422 and switched.json["code"] == "card_not_accepted", switched.json
    assert "stolen" not in str(switched.json) and "block" not in switched.json["detail"]
    assert api.get("/v1/me", as_=user).json["default_card_id"] != bound.json["card_id"]
