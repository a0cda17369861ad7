"""The order lifecycle is one table: each event is legal from the statuses listed here and
no other, an illegal step is a 409 `illegal_transition` that writes nothing, the write holds
only while the order is in the status it was read in, and docs/lifecycle.md is what the
table renders."""

from __future__ import annotations

from datetime import datetime

import pytest

from chalicelib import errors, web
from chalicelib.clock import clock, iso
from chalicelib.db import Tx
from chalicelib.models.orders import BNPL, STATUSES, Order
from chalicelib.services.orders import lifecycle
from chalicelib.services.orders.lifecycle import OrderEvent as E
from chalicelib.services.orders.lifecycle import OrderStatus as S
from scripts import lifecycle as page

# Spelled out once more on purpose: a change to the table is a change to this list.
LEGAL_FROM = {
    E.CONFIRM: {S.AWAITING_CONFIRMATION},
    E.HOLD_FOR_REVIEW: {S.AWAITING_CONFIRMATION},
    E.CONFIRM_CHANNEL: {S.AWAITING_CONFIRMATION},
    E.APPROVE: {S.RISK_REVIEW},
    E.DECLINE: {S.AWAITING_CONFIRMATION, S.RISK_REVIEW},
    E.REVIEW_TIMEOUT: {S.RISK_REVIEW},
    E.EXPIRE: {S.AWAITING_CONFIRMATION, S.AWAITING_PAYMENT},
    E.CANCEL: {S.AWAITING_CONFIRMATION, S.AWAITING_PAYMENT, S.PLACED, S.PAID},
    E.PAY: {S.AWAITING_PAYMENT, S.RECEIVED, S.OVERDUE},
    E.PAY_PART: {S.RECEIVED, S.OVERDUE},
    E.MARK_OVERDUE: {S.RECEIVED},
    E.SHIP: {S.PLACED, S.PAID},
    E.RECEIVE: {S.SHIPPED},
    E.COMPLETE: {S.PAID, S.RECEIVED},
    E.REQUEST_RETURN: {S.SHIPPED, S.RECEIVED, S.OVERDUE, S.PAID},
    E.RETURN_STEP: {S.RETURN_REQUESTED},
    E.ESCALATE: {
        S.RETURN_REQUESTED,
        S.SHIPPED,
        S.RECEIVED,
        S.OVERDUE,
        S.PAID,
        S.COMPLETED,
    },  # not RETURNED: nothing left to dispute
    E.RESUME: {S.RETURN_REQUESTED},
    E.SETTLE_RETURN: {S.RETURN_REQUESTED},
    # goods a dispute refunded on their way back arrive, wherever the order is by then
    E.GOODS_BACK: {
        S.SHIPPED,
        S.RECEIVED,
        S.OVERDUE,
        S.PAID,
        S.COMPLETED,
        S.RETURN_REQUESTED,
        S.RETURNED,
    },
}


def order_in(status: str, payment_method: str = BNPL) -> Order:
    now = clock.now()
    return Order(
        "o_lifecycle",
        checkout_id="co_lifecycle",
        user_id="u-lifecycle",
        merchant_id="m-lifecycle",
        created_key=f"{iso(now)}#o_lifecycle",
        status=status,
        payment_method=payment_method,
        items=[],
        subtotal_fen=100,
        total_fen=100,
        address={},
        created_at=iso(now),
        updated_at=iso(now),
        history=[],
    )


def test_each_event_is_legal_from_exactly_its_listed_statuses() -> None:
    assert {event: set(lifecycle.legal_from(event)) for event in E} == LEGAL_FROM


def test_no_event_is_legal_from_every_status_and_a_cancelled_order_stays_cancelled() -> None:
    assert [event for event in E if lifecycle.legal_from(event) == set(S)] == []
    assert [step for step in lifecycle.TABLE if step.frm == S.CANCELLED] == []


def test_the_statuses_are_one_enum_and_every_one_is_reached_from_the_first() -> None:
    assert STATUSES == tuple(s.value for s in S)
    reached, todo = {lifecycle.INITIAL}, [lifecycle.INITIAL]
    while todo:
        here = todo.pop()
        for step in lifecycle.TABLE:
            if step.frm == here and step.to not in reached:
                reached.add(step.to)
                todo.append(step.to)
    assert reached == set(S)


def test_a_step_lists_one_target_unless_it_ends_the_after_sale_pause() -> None:
    several = {
        (step.frm, step.event)
        for step in lifecycle.TABLE
        if len(lifecycle.targets(step.frm, step.event, BNPL)) > 1
        or len(lifecycle.targets(step.frm, step.event, "alipay")) > 1
    }
    assert several == {(S.RETURN_REQUESTED, E.RESUME), (S.RETURN_REQUESTED, E.SETTLE_RETURN)}


@pytest.mark.parametrize("event", list(E))
def test_an_illegal_step_is_a_409_illegal_transition_and_writes_nothing(event: E) -> None:
    status = next(s for s in S if s not in LEGAL_FROM[event])
    tx = Tx()
    with pytest.raises(errors.Conflict) as refused:
        lifecycle.transition(tx, order_in(status), event, clock.now(), "test")
    assert refused.value.code == "illegal_transition"
    assert web.problem_response(refused.value).status_code == 409
    assert len(tx) == 0


@pytest.mark.parametrize(
    ("status", "event", "method", "legal"),
    [
        (S.PAID, E.CANCEL, "alipay", True),  # a paid channel order is cancelled and refunded
        (S.PAID, E.CANCEL, BNPL, False),  # a paid 先用后付 order was received long ago
        (S.PLACED, E.SHIP, BNPL, True),
        (S.PLACED, E.SHIP, "card", False),
        (S.PAID, E.SHIP, "card", True),
        (S.PAID, E.SHIP, BNPL, False),
        (S.AWAITING_PAYMENT, E.PAY, "wechat_pay", True),
        (S.RECEIVED, E.PAY, "wechat_pay", False),
        (S.RECEIVED, E.PAY, BNPL, True),
        (S.PAID, E.COMPLETE, BNPL, True),
        (S.PAID, E.COMPLETE, "card", False),
        (S.RECEIVED, E.COMPLETE, "card", True),
        (S.RECEIVED, E.COMPLETE, BNPL, False),
    ],
)
def test_some_steps_hold_for_one_way_of_paying(status: S, event: E, method: str, legal: bool) -> None:
    assert bool(lifecycle.targets(status, event, method)) is legal


def test_the_end_of_a_pause_goes_only_where_a_pause_can_return() -> None:
    with pytest.raises(errors.Conflict) as refused:
        lifecycle.transition(Tx(), order_in(S.RETURN_REQUESTED), E.RESUME, clock.now(), "test", to=S.CANCELLED)
    assert refused.value.code == "illegal_transition"
    with pytest.raises(errors.Conflict):  # several targets: the caller must name one
        lifecycle.transition(Tx(), order_in(S.RETURN_REQUESTED), E.RESUME, clock.now(), "test")


def test_the_write_holds_only_while_the_order_is_in_the_status_it_was_read_in() -> None:
    order_in(S.SHIPPED).save()
    first, second = Order.get("o_lifecycle"), Order.get("o_lifecycle")
    now: datetime = clock.now()
    tx = Tx()
    lifecycle.transition(tx, first, E.RECEIVE, now, "user:u-lifecycle")
    tx.commit()
    late = Tx()
    lifecycle.transition(late, second, E.RECEIVE, now, "system")  # legal for the status it read
    with pytest.raises(errors.Conflict) as lost:
        late.commit()
    assert lost.value.code == "illegal_transition"
    stored = Order.get("o_lifecycle", consistent_read=True)
    assert stored.status == "received"
    assert [(h["status"], h["actor"]) for h in stored.history] == [("received", "user:u-lifecycle")]


def test_docs_lifecycle_md_is_what_the_table_renders() -> None:
    assert page.TARGET.read_text(encoding="utf-8") == page.render(), "run `make lifecycle`"
