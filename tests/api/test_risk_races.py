"""Risk decisions under races and respelling (an independent tester's probes of the third
release): what held."""

from __future__ import annotations

from chalicelib.services.risk import decide
from tests.api.test_risk import decision_of, product, risk_post
from tests.conftest import Api
from tests.support.shopping import checkout, confirm, credit, racing_transactions, run_together, sku_ids


def test_confirming_one_order_twice_at_once_reserves_and_counts_it_once(api: Api, activated_user: str) -> None:
    user = activated_user
    before = credit(api, user)
    order = checkout(api, user, [(sku_ids(product(api, 2990))[0], 1)]).json["orders"][0]
    with racing_transactions(2, first_only=True):
        answers = run_together(lambda: confirm(api, user, order), lambda: confirm(api, user, order))
    assert sorted(a.status_code for a in answers) == [200, 409], [a.json for a in answers]
    after = credit(api, user)
    assert before["available_fen"] - after["available_fen"] == 2990
    nxt = checkout(api, user, [(sku_ids(product(api, 2990))[0], 1)]).json["orders"][0]
    assert confirm(api, user, nxt).status_code == 200
    assert decision_of(nxt["order_id"]).inputs["user_orders_1h"] == 1


def test_an_operator_cannot_decide_a_review_of_their_own_order(api: Api, activated_user: str) -> None:
    order = checkout(api, activated_user, [(sku_ids(product(api, 40_000))[0], 1)]).json["orders"][0]
    held = confirm(api, activated_user, order)  # a first order above ¥300: review
    assert held.status_code == 202, held.json
    review_id = decide.decision_id(order["order_id"])
    own = risk_post(
        api, f"/v1/risk/reviews/{review_id}/decision", {"decision": "approve", "note": "mine"}, as_=activated_user
    )
    assert own.status_code == 403 and own.json["code"] == "own_case"
    cancel = api.post(f"/v1/orders/{order['order_id']}/cancel", as_=activated_user)
    assert cancel.status_code in (404, 405, 409), cancel.json
