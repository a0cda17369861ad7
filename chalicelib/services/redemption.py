"""Redemption (兑现): points to wallet cash, through the reviewed SQS queue.

The story: the user asks to redeem an amount; the points it needs
(`amount_fen × points_per_yuan_redeemed / 100`) are held at once, in the same transaction
as the `pending` request and the day's counter (SPEC: at most `redemption_daily_max_count`
requests and `redemption_daily_max_fen` a day, China time), so they cannot be spent twice.
A message then goes on the review queue. If that send fails after the commit, a timer
set in the same transaction (`redemption_enqueue`, `redemption_enqueue_grace_seconds`
later) makes the `enqueue_pending_redemptions` job send it again; a successful send
cancels the timer.

The queue handler applies SPEC's review rules to a `pending` request:
- reject when 先用后付 is frozen (held points released);
- auto-approve up to `redemption_auto_approve_max_fen` for a user with no overdue order
  whose account is older than `redemption_min_account_age_seconds` (cash credited, held
  points consumed);
- otherwise `manual_review`, decided by a reviewer (approve / reject).
"Points short" is refused when the request is made (409 `insufficient_points`): the hold
is what makes a later shortage impossible.
Every transition is conditional on the current status, so a duplicate delivery or a
second decision changes nothing; ledger event ids are per request, so nothing is credited
twice even if a condition were bypassed.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from pynamodb.exceptions import DoesNotExist

from .. import errors, ledger, pagination, queues, timers
from ..clock import CHINA, clock, iso, parse_iso
from ..config import settings
from ..db import Tx
from ..idempotency import IdemScope
from ..ledger import POINTS, POINTS_HELD, Leg
from ..models.redemptions import APPROVED, MANUAL_REVIEW, PENDING, REJECTED, Redemption, RedemptionDay
from ..models.timers import Timer
from ..models.users import BNPL_FROZEN, User
from ..observability import count, logger
from . import accounts, closing, duties
from . import redemption_decisions as decisions

ENQUEUE_TIMER = timers.REDEMPTION_ENQUEUE
# The daily limits count calendar days in China (UTC+8, no daylight saving).
AUTO = "auto"
GET_ERRORS = errors.raises(not_found=["redemption_not_found"])
REQUEST_ERRORS = closing.CLOSING_ERRORS | errors.raises(
    conflict=["insufficient_points"], unprocessable=["amount_not_redeemable", "daily_limit_reached"]
)
# Both an amount and points, or neither (the schema lets either be left out).
AMOUNT_ERRORS = errors.raises(bad_request=["validation_failed"])
DECIDE_ERRORS = duties.OWN_CASE_ERRORS | GET_ERRORS | errors.raises(conflict=["illegal_transition"])
# The automatic review: the queue is down, or the account moved under it (retried).
REVIEW_ERRORS = errors.raises(unavailable=["queue_unavailable", "review_inputs_changed"])


# --- amounts ------------------------------------------------------------------------------


def points_for_amount(amount_fen: int) -> int:
    rate = settings().rules.points_per_yuan_redeemed
    if amount_fen * rate % 100:
        raise errors.unprocessable(
            "amount_not_redeemable",
            f"{rate} points are worth ¥1: choose an amount that is a whole number of points",
            [errors.FieldError("amount_fen", "not a whole number of points")],
        )
    return amount_fen * rate // 100


def amount_for_points(points: int) -> int:
    rate = settings().rules.points_per_yuan_redeemed
    if points * 100 % rate:
        raise errors.unprocessable(
            "amount_not_redeemable",
            f"{rate} points are worth ¥1: choose points that make a whole number of fen",
            [errors.FieldError("points", "not a whole number of fen")],
        )
    return points * 100 // rate


# --- requests -----------------------------------------------------------------------------


def request(
    user_id: str, *, amount_fen: int | None, points: int | None, now: datetime, idem: IdemScope | None = None
) -> Redemption:
    """Hold the points and store a `pending` request, then put it on the review queue."""
    rules = settings().rules
    if (amount_fen is None) == (points is None):
        raise errors.bad_request("validation_failed", "give exactly one of amount_fen and points")
    if amount_fen is not None:
        points = points_for_amount(amount_fen)
    else:
        assert points is not None
        amount_fen = amount_for_points(points)
    if amount_fen <= 0 or points <= 0:
        raise errors.unprocessable("amount_not_redeemable", "redeem at least one fen")
    if amount_fen > rules.redemption_daily_max_fen:
        raise errors.unprocessable(
            "daily_limit_reached", f"at most {rules.redemption_daily_max_fen} fen can be redeemed a day"
        )
    accounts.get_or_create(user_id, now)
    rid = "rdm_" + uuid.uuid4().hex[:24]
    at = iso(now)
    enqueue_due = now + timedelta(seconds=rules.redemption_enqueue_grace_seconds)
    item = Redemption(
        rid,
        user_id=user_id,
        created_at=at,
        created_key=f"{at}#{rid}",
        amount_fen=amount_fen,
        points=points,
        status=PENDING,
        open_status=PENDING,
        enqueue_due_at=iso(enqueue_due),
        updated_at=at,
        history=[{"status": PENDING, "at": at, "actor": user_id}],
    )
    tx = Tx()
    tx.save(item, condition=Redemption.redemption_id.does_not_exist())
    closing.opens(tx, user_id, [User.open_redemptions.add(1)])
    _count_today(tx, user_id, amount_fen, now)
    account = ledger.user_account(user_id)
    ledger.post(
        tx,
        event_id=f"redemption:{rid}:held",
        kind="redemption_held",
        at=now,
        legs=[Leg(account, POINTS, -points), Leg(account, POINTS_HELD, points)],
        ref=rid,
        insufficient=errors.conflict("insufficient_points", f"redeeming {amount_fen} fen needs {points} points"),
    )
    timers.schedule(tx, ENQUEUE_TIMER, rid, enqueue_due)
    if idem is not None:
        idem.stage(tx, item)
    tx.commit()
    count("RedemptionsRequested")
    _enqueue_after_commit(item)
    return item


def _count_today(tx: Tx, user_id: str, amount_fen: int, now: datetime) -> None:
    rules = settings().rules
    day = now.astimezone(CHINA).date()
    condition = (
        RedemptionDay.requests.does_not_exist() | (RedemptionDay.requests < rules.redemption_daily_max_count)
    ) & (
        RedemptionDay.amount_fen.does_not_exist()
        | (RedemptionDay.amount_fen <= rules.redemption_daily_max_fen - amount_fen)
    )
    tx.update(
        RedemptionDay(f"{user_id}#{day.isoformat()}"),
        [
            RedemptionDay.requests.add(1),
            RedemptionDay.amount_fen.add(amount_fen),
            RedemptionDay.expires_at.set(int(now.timestamp()) + 2 * 86400),
        ],
        condition=condition,
        on_fail=errors.unprocessable(
            "daily_limit_reached",
            f"at most {rules.redemption_daily_max_count} requests and {rules.redemption_daily_max_fen} fen a day",
        ),
    )


def _message(item: Redemption) -> dict[str, Any]:
    return {"redemption_id": item.redemption_id}


def _enqueue_after_commit(item: Redemption) -> None:
    """Best effort: on failure the enqueue timer re-sends it (the request is safe)."""
    try:
        queues.send(settings().review_queue_name, _message(item))
    except Exception as exc:  # noqa: BLE001 - the timer covers any failure here
        logger.warning(
            "review enqueue failed", extra={"redemption_id": item.redemption_id, "error": type(exc).__name__}
        )
        count("RedemptionEnqueueFailed")
        return
    try:
        tx = Tx()
        timers.cancel(tx, ENQUEUE_TIMER, item.redemption_id, item.enqueue_due_at or "")
        tx.commit()
    except Exception as exc:  # noqa: BLE001 - a leftover timer only finds the request decided
        logger.warning(
            "enqueue timer not cancelled", extra={"redemption_id": item.redemption_id, "error": type(exc).__name__}
        )


def enqueue_pending_redemptions(now: datetime) -> dict[str, Any]:
    """Send again the review message of requests whose first send was not confirmed."""

    def act(timer: Timer) -> bool:
        item = find(timer.ref)
        resend = item is not None and item.status == PENDING
        if resend:
            assert item is not None
            try:
                queues.send(settings().review_queue_name, _message(item))
            except Exception as exc:
                logger.warning("review re-enqueue failed", extra={"redemption_id": timer.ref})
                raise errors.unavailable("queue_unavailable", "the review queue is unavailable") from exc
        tx = Tx()
        timers.take(tx, timer)
        tx.commit()
        return resend

    return timers.sweep(ENQUEUE_TIMER, now, act)


# --- reading ------------------------------------------------------------------------------


def find(redemption_id: str) -> Redemption | None:
    try:
        return Redemption.get(redemption_id, consistent_read=True)
    except DoesNotExist:
        return None


def get_for_user(user_id: str, redemption_id: str) -> Redemption:
    """The user's own request; another user's is a 404."""
    item = find(redemption_id)
    if item is None or item.user_id != user_id:
        raise errors.not_found("redemption_not_found", "no such redemption request")
    return item


def list_for_user(user_id: str, *, limit: int, cursor: str | None) -> tuple[list[Redemption], str | None]:
    """The user's requests, newest first."""
    scope = f"redemptions:{user_id}"
    result = Redemption.by_user.query(
        user_id, scan_index_forward=False, limit=limit, last_evaluated_key=pagination.decode(cursor, scope)
    )
    items = list(result)
    return items, pagination.encode(result.last_evaluated_key, scope)


def list_open(status: str, *, limit: int, cursor: str | None) -> tuple[list[Redemption], str | None]:
    """Undecided requests in one status, oldest first (a work queue), via the sparse index."""
    scope = f"review-redemptions:{status}"
    result = Redemption.by_status.query(status, limit=limit, last_evaluated_key=pagination.decode(cursor, scope))
    items = list(result)
    return items, pagination.encode(result.last_evaluated_key, scope)


# --- the review queue ---------------------------------------------------------------------


def review_batch(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """The SQS handler: each record reviewed on its own; failures reported per record
    (`batchItemFailures`) so they alone are retried, and after 5 receives go to the DLQ."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    result: dict[str, Any] = dict(
        process_partial_response(event=event, record_handler=_review_record, processor=processor, context=context)
    )
    return result


def _review_record(record: Any) -> str:
    try:
        doc = json.loads(record.body)
        redemption_id = doc["redemption_id"]
        if not isinstance(redemption_id, str) or not redemption_id:
            raise ValueError("redemption_id")
    except (ValueError, KeyError, TypeError) as exc:
        logger.error("malformed review message", extra={"message_id": record.message_id})
        raise ValueError("malformed review message") from exc
    return review(redemption_id, clock.now())


def review(redemption_id: str, now: datetime) -> str:
    """Apply the review rules to a pending request; returns the outcome, or `duplicate`
    when it was already reviewed (a repeated delivery)."""
    item = find(redemption_id)
    if item is None:
        logger.error("review message for an unknown redemption", extra={"redemption_id": redemption_id})
        raise LookupError("unknown redemption")
    if item.status != PENDING:
        count("RedemptionDuplicateDelivery")
        return "duplicate"
    user = accounts.get(item.user_id)
    outcome, reason = auto_decision(item, user, now)
    try:
        if outcome == APPROVED:
            decisions.decide(item, APPROVED, actor=AUTO, reason=reason, note=None, now=now, user_unchanged=True)
        elif outcome == REJECTED:
            decisions.decide(item, REJECTED, actor=AUTO, reason=reason, note=None, now=now)
        else:
            decisions.decide(item, MANUAL_REVIEW, actor=AUTO, reason=reason, note=None, now=now)
    except errors.DomainError as err:
        if err.code == "illegal_transition":
            count("RedemptionDuplicateDelivery")
            return "duplicate"
        raise
    count("RedemptionReviewed", outcome=outcome)
    return outcome


def auto_decision(item: Redemption, user: User, now: datetime) -> tuple[str, str]:
    """SPEC's review rules: (outcome, reason)."""
    rules = settings().rules
    if user.bnpl_status == BNPL_FROZEN:
        return REJECTED, "bnpl_frozen"
    if int(item.amount_fen) > rules.redemption_auto_approve_max_fen:
        return MANUAL_REVIEW, "over_auto_approve_limit"
    if int(user.overdue_open_count or 0) > 0:
        return MANUAL_REVIEW, "overdue_order"
    if (now - parse_iso(user.created_at)).total_seconds() <= rules.redemption_min_account_age_seconds:
        return MANUAL_REVIEW, "account_too_new"
    return APPROVED, "auto_approved"


def reviewer_decision(
    reviewer_id: str, redemption_id: str, decision: str, note: str | None, now: datetime, idem: IdemScope | None = None
) -> Redemption:
    """A reviewer approves or rejects a request held for manual review, once; never their own."""
    item = find(redemption_id)
    if item is None:
        raise errors.not_found("redemption_not_found", "no such redemption request")
    duties.refuse_own_case(reviewer_id, item.user_id, "redemption request")
    action = "approve" if decision == "approve" else "reject"
    if item.status != MANUAL_REVIEW:
        raise errors.illegal_transition("redemption", str(item.status), action)
    to = APPROVED if decision == "approve" else REJECTED
    decisions.decide(item, to, actor=reviewer_id, reason=f"reviewer_{to}", note=note, now=now, idem=idem)
    count("RedemptionReviewed", outcome=to)
    return item
