"""The decision on a 先用后付 confirmation: the one call `confirmation.confirm` makes.

`assess` reads what the rules need (one BatchGet) and evaluates them; `record` adds to the
confirmation's own transaction the decision (with its inputs, reasons and the rules'
version), the statistics, and — for an order the rules let through — the velocity
counters, conditioned on the counts the decision read (one buyer's dimensions: a racing
confirmation's transaction fails with `COUNTS_MOVED` and the confirmation decides again).
A decision is one item per order, so a retried confirmation records it once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ... import errors, sharding
from ...clock import iso
from ...config import settings
from ...db import Tx
from ...models.orders import Order
from ...models.risk import APPROVE, DECLINE, PENDING, REVIEW, STATS_PART, RiskDecision, RiskStats, stats_counter
from ...models.users import User
from ...observability import count
from . import rules, signals

# What the buyer reads: never the rule. Clients localise by `code`; this is the default text.
DECLINED_MESSAGE = (
    "先用后付 is not available for this order. Nothing was charged and the items were released: "
    "you may check out again with another payment method."
)
REVIEW_MESSAGE = "We are checking this order; you will be notified within 30 minutes."


def decision_id(order_id: str) -> str:
    return "rd_" + order_id.removeprefix("o_")


COUNTS_MOVED = signals.COUNTS_MOVED
# A 先用后付 order paid (in the payment's transaction): its amount joins the user's median.
count_paid = signals.count_paid


def bnpl_declined() -> errors.DomainError:
    return errors.PaymentDeclined("bnpl_declined", DECLINED_MESSAGE)


# Declined, or already decided by a concurrent confirmation.
ASSESS_ERRORS = errors.raises(payment_declined=["bnpl_declined"], conflict=["challenge_used"])


@dataclass
class Assessment:
    outcome: str
    reasons: list[rules.Reason]
    inputs: dict[str, int]
    version: str
    subject: signals.Subject
    elapsed_ms: float
    read: dict[str, int | None]  # the guarded counters as read (`signals.guarded`)

    def record(self, tx: Tx, order: Order, now: datetime) -> RiskDecision:
        """Add the decision, its statistics and (unless declined) the counters to `tx`."""
        at = iso(now)
        did = decision_id(order.order_id)
        decision = RiskDecision(
            did,
            order_id=order.order_id,
            user_id=order.user_id,
            merchant_id=order.merchant_id,
            amount_fen=int(order.total_fen),
            outcome=self.outcome,
            rules_version=self.version,
            inputs=self.inputs,
            reasons=[r.as_dict() for r in self.reasons],
            created_at=at,
            created_key=f"{at}#{did}",
        )
        if self.outcome == REVIEW:
            decision.review_status = PENDING
            decision.review_due_at = iso(review_deadline(now))
        tx.save(
            decision,
            condition=RiskDecision.decision_id.does_not_exist(),
            on_fail=errors.conflict("challenge_used", "this order was already decided"),
        )
        if self.outcome != DECLINE:
            signals.count_in(tx, self.subject, int(order.total_fen), now, self.read)
        add_stats(tx, now, order.order_id, self.outcome, [r.rule_id for r in self.reasons])
        return decision

    def emit(self) -> None:
        """EMF metrics: one per outcome, one per matching rule."""
        count("RiskDecisions", Outcome=self.outcome)
        for reason in self.reasons:
            count("RiskRuleMatches", Rule=reason.rule_id)


def review_deadline(now: datetime) -> datetime:
    return now + timedelta(seconds=settings().rules.risk_review_seconds)


def stats_key(day: str, ref: str) -> str:
    """The day's counter item `ref` adds to: one of `RISK_STATS_SHARDS` (at 10,000
    decisions/s, 64 items take ~310 WCU/s each; `stats.daily` reads them in one BatchGet)."""
    return f"stats#{day}#{sharding.shard_of(ref, settings().rules.risk_stats_shards):02d}"


def add_stats(tx: Tx, now: datetime, ref: str, outcome: str, rule_ids: list[str]) -> None:
    """One update of one item: the outcome and each matching rule counted once."""
    counters = [f"outcome#{outcome}", *(f"rule#{rule_id}" for rule_id in dict.fromkeys(rule_ids))]
    item = RiskStats(stats_key(signals.day_of(now), ref), STATS_PART)
    tx.update(item, [stats_counter(name).add(1) for name in counters])


def assess(order: Order, user: User, *, device_id: str | None, now: datetime) -> Assessment:
    """Decide a 先用后付 confirmation from the stage's rules (SPEC 'Risk decisions')."""
    started = time.perf_counter()
    rule_set = rules.current()
    subject = signals.subject_of(order, user, device_id)
    seen = signals.read(subject, order.user_id, now)
    inputs = signals.inputs_of(subject, seen, order, user, now)
    outcome, reasons = rule_set.evaluate(inputs)
    read = signals.guarded(subject, seen, rule_set.inputs(), now)
    elapsed = (time.perf_counter() - started) * 1000
    return Assessment(outcome, reasons, inputs, rule_set.version, subject, elapsed, read)


def evaluate_only(inputs: dict[str, int]) -> tuple[str, list[dict[str, Any]]]:
    """The current rules over recorded inputs (the back-test)."""
    outcome, reasons = rules.current().evaluate(inputs)
    return outcome, [r.as_dict() for r in reasons]


__all__ = ["APPROVE", "DECLINE", "REVIEW", "Assessment", "assess", "bnpl_declined"]
