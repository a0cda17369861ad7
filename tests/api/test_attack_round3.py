"""The outside tester's third round, against the third release (installments, risk decisions,
merchant webhooks): each test is a defect found by an attack, failing before its fix."""

from __future__ import annotations

from chalicelib import ledger, schedules
from chalicelib.clock import clock
from tests.conftest import Api, new_key
from tests.support.installments import received_in_parts, return_and_approve, schedule_of


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

