"""Random sequences of payments, refunds, redemptions, deliveries (duplicated) and reviewer
decisions; after every step the ledger must still add up."""

from __future__ import annotations

import json
import uuid
from collections import Counter, defaultdict

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from chalicelib import errors, ledger, queues
from chalicelib.clock import clock
from chalicelib.config import settings as app_settings
from chalicelib.local import worker
from chalicelib.models.ledger import Balance, Entry
from chalicelib.models.orders import Order
from chalicelib.models.redemptions import APPROVED, OPEN, Redemption
from chalicelib.models.registry import all_models
from chalicelib.services import accounts, reconcile, redemption
from tests.support.wallet import earn, refund, set_user, sqs_event

# The platform book that balances each user-facing event kind (its other leg).
PLATFORM_BOOK = {
    "points_earned": ledger.POINTS_ISSUED,
    "points_reversed": ledger.POINTS_ISSUED,
    "redemption_points_consumed": ledger.POINTS_ISSUED,
    "redemption_credited": ledger.REWARDS_EXPENSE,
}


def _forget_earlier_examples() -> None:
    """Empty the tables and the queue between examples: moto copies every table on each
    transaction, so leftovers of earlier examples would only make this one slow."""
    for model in all_models():
        with model.batch_write() as batch:
            for item in model.scan():
                batch.delete(item)
    sqs, url = queues.client(), queues.url(app_settings().review_queue_name)
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for m in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


class WalletMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        _forget_earlier_examples()
        self.uid = "hu-" + uuid.uuid4().hex[:10]
        self.account = ledger.user_account(self.uid)
        accounts.get_or_create(self.uid, clock.now())
        self.orders: dict[str, int] = {}  # order id -> amount paid
        self.refunded: dict[str, int] = defaultdict(int)
        self.redemptions: list[str] = []

    # --- the model's oracle for the user's total points position ----------------------------

    def expected_points_position(self, items: list[Redemption]) -> int:
        ppy = app_settings().rules.points_per_yuan_paid
        total = 0
        for oid, paid in self.orders.items():
            earned = paid // 100 * ppy
            total += min(earned, (paid - self.refunded[oid]) // 100 * ppy)  # points of the yuan still paid for
        consumed = sum(int(r.points) for r in items if r.status == APPROVED)
        return total - consumed

    def _redemptions(self) -> list[Redemption]:
        return list(Redemption.batch_get(self.redemptions, consistent_read=True))

    def _balance(self, book: str) -> int:
        item = ledger.balances(self.account).get(book)
        return int(item.balance) if item else 0

    # --- rules -------------------------------------------------------------------------------

    @initialize(amount=st.integers(min_value=500_000, max_value=3_000_000), aged=st.booleans())
    def a_first_big_order(self, amount: int, aged: bool) -> None:
        self.pay_an_order_on_time(amount)
        if aged:  # past the account age auto-approval needs
            clock.advance(app_settings().rules.redemption_min_account_age_seconds + 1)

    @rule(amount=st.integers(min_value=0, max_value=1_000_000))
    def pay_an_order_on_time(self, amount: int) -> None:
        order = earn(self.uid, amount)
        self.orders[order.order_id] = amount

    @precondition(lambda self: bool(self.orders))
    @rule(data=st.data())
    def refund_part_of_an_order(self, data: st.DataObject) -> None:
        oid = data.draw(st.sampled_from(list(self.orders)))  # insertion order: ids are random
        left = self.orders[oid] - self.refunded[oid]
        if left <= 0:
            return
        fen = data.draw(st.integers(min_value=1, max_value=left))
        owed_before = self._balance(ledger.POINTS_OWED)
        refund(Order.get(oid), fen)
        self.refunded[oid] += fen
        event("refund left points owed" if self._balance(ledger.POINTS_OWED) < owed_before else "refund")

    @rule(amount=st.one_of(st.integers(min_value=1, max_value=5_000), st.integers(min_value=5_001, max_value=20_000)))
    def ask_to_redeem(self, amount: int) -> None:
        spendable = self._balance(ledger.POINTS)
        try:
            item = redemption.request(self.uid, amount_fen=amount, points=None, now=clock.now())
        except errors.DomainError as err:
            event(f"redeem refused: {err.code}")
            assert err.code in ("insufficient_points", "daily_limit_reached"), err.code
            if err.code == "insufficient_points":
                assert spendable < redemption.points_for_amount(amount)
            return
        self.redemptions.append(item.redemption_id)
        event("redeem accepted")

    @precondition(lambda self: bool(self.redemptions))
    @rule(data=st.data(), copies=st.sampled_from([1, 2, 3]))
    def deliver_a_review_message_maybe_duplicated(self, data: st.DataObject, copies: int) -> None:
        rid = data.draw(st.sampled_from(self.redemptions))
        before = Redemption.get(rid).status
        result = redemption.review_batch(sqs_event([{"redemption_id": rid}] * copies))
        assert result == {"batchItemFailures": []}
        after = Redemption.get(rid).status
        event(f"delivery x{copies}: {before} -> {after}")
        assert after == before if before != "pending" else after != "pending"

    @rule()
    def drain_the_real_queue(self) -> None:
        before = Counter(r.status for r in self._redemptions())
        worker.drain({app_settings().review_queue_name: redemption.review_batch})
        after = Counter(r.status for r in self._redemptions())
        event(f"drained: {dict(sorted((after - before).items()))}")

    @precondition(lambda self: bool(self.redemptions))
    @rule(data=st.data(), approve=st.booleans())
    def a_reviewer_decides(self, data: st.DataObject, approve: bool) -> None:
        rid = data.draw(st.sampled_from(self.redemptions))
        before = Redemption.get(rid).status
        decision = "approve" if approve else "reject"
        try:
            item = redemption.reviewer_decision("rev-h", rid, decision, None, clock.now())
        except errors.DomainError as err:
            assert before != "manual_review" and err.code == "illegal_transition"
            event("decision refused")
            return
        event(f"reviewer: {item.status}")
        assert before == "manual_review" and item.status == ("approved" if approve else "rejected")

    @rule(frozen=st.booleans())
    def freeze_or_unfreeze(self, frozen: bool) -> None:
        set_user(self.uid, bnpl_status="frozen" if frozen else "active", overdue_open_count=1 if frozen else 0)

    @rule(seconds=st.sampled_from([3600, 86400]))
    def time_passes(self, seconds: int) -> None:
        clock.advance(seconds)

    # --- what must hold after every step -----------------------------------------------------

    @invariant()
    def the_ledger_adds_up(self) -> None:
        entries = list(Entry.query(self.account, consistent_read=True))
        derived: Counter[str] = Counter()
        by_event: dict[str, list[Entry]] = defaultdict(list)
        for e in entries:
            derived[e.book] += int(e.amount)
            by_event[e.event_id].append(e)
        stored = {b.book: int(b.balance) for b in Balance.query(self.account, consistent_read=True)}
        for book in set(derived) | set(stored):
            assert stored.get(book, 0) == derived[book], (book, stored.get(book), derived[book])
        # every event balances, with as many legs as it says
        platform_keys = [
            (ledger.physical_account(ledger.PLATFORM, eid), f"{eid}#{PLATFORM_BOOK[legs[0].event_kind]}")
            for eid, legs in by_event.items()
            if legs[0].event_kind in PLATFORM_BOOK
        ]
        for leg in Entry.batch_get(platform_keys):
            by_event[leg.event_id].append(leg)
        for eid, legs in by_event.items():
            assert sum(int(e.amount) for e in legs) == 0, eid
            assert {int(e.legs) for e in legs} == {len(legs)}, eid
        # no balance out of bounds
        points, held, owed, cash = (
            stored.get(b, 0) for b in (ledger.POINTS, ledger.POINTS_HELD, ledger.POINTS_OWED, ledger.CASH)
        )
        assert points >= 0 and held >= 0 and owed <= 0
        # no redemption credited twice; cash is exactly what was approved; held is what is open
        credited = Counter(e.ref for e in entries if e.event_kind == "redemption_credited")
        assert all(n == 1 for n in credited.values())
        items = self._redemptions()
        assert set(credited) == {r.redemption_id for r in items if r.status == APPROVED}
        assert cash == sum(int(r.amount_fen) for r in items if r.status == APPROVED)
        assert held == sum(int(r.points) for r in items if r.status in OPEN)
        # and every point is explained by payments, refunds and approved redemptions
        assert points + held + owed == self.expected_points_position(items)

    def teardown(self) -> None:
        # The reconciliation job, over everything this run touched, finds nothing either.
        touched: dict[str, set[str]] = defaultdict(set)
        for e in Entry.query(self.account):
            touched[e.account].add(e.entry_id)
            if e.event_kind in PLATFORM_BOOK:
                touched[ledger.physical_account(ledger.PLATFORM, e.event_id)].add(
                    f"{e.event_id}#{PLATFORM_BOOK[e.event_kind]}"
                )
        result = reconcile.check(touched)
        assert result["balance_drift"] == [] and result["event_drift"] == [], json.dumps(result)


def test_random_redemptions_decisions_duplicate_deliveries_and_refunds_keep_the_ledger_sound() -> None:
    run_state_machine_as_test(
        WalletMachine,
        settings=settings(
            max_examples=20,
            stateful_step_count=20,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
