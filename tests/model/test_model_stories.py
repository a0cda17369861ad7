"""Stories of the model-based test (tests/support/model_based.py) replayed step by step: a
story the soak found, kept deterministic so the model's invariants are checked against it."""

from __future__ import annotations

from chalicelib.models import orders as o
from tests.conftest import Api
from tests.support.model_based import MoneyMachine, check_invariants


def test_a_merchant_message_keeps_its_notification_unless_closure_erased_it(api: Api) -> None:
    """Closure deletes the user's notifications (erasure.scrub), a merchant's message about
    their order included: the message stays, its notification does not (`make soak` found the
    model expecting it). A message after the closure is notified and keeps its notification."""
    MoneyMachine.api, MoneyMachine.faults = api, None
    m = MoneyMachine()
    sent = MoneyMachine.reached["message:201"]  # (counted across stories)
    m.buy(user=0, basket=[(2, 1)], use_coupon=False, until=o.RECEIVED)
    order_id = m.orders[-1][0]
    m.pay_now(0, "card", order_id=order_id)
    m.send_message(i=0, from_merchant=True)
    m.close_account(user=0)
    assert m.closed_users and m.reached["message:201"] == sent + 1, m.reached
    check_invariants(m)
    m.send_message(i=0, from_merchant=True)
    assert m.reached["message:201"] == sent + 2, m.reached
    check_invariants(m)
