"""What channels tell us: a notification (verified, de-duplicated, settled, answered as the
channel expects) or the answer to our `query` about a pending attempt."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from ... import channels, errors
from ...channels import base as ch
from ...models.payments import PaymentAttempt
from ...observability import count, logger
from .attempts import get_attempt, payment_ref
from .settlement import Result, Settlement, settle

# Playing the channel (sandbox stages): no such channel payment, or no such notification.
SIMULATE_ERRORS = errors.raises(not_found=["payment_not_found"], unprocessable=["no_such_notification"])


def handle_notification(path: str, headers: Mapping[str, str], body: bytes, now: datetime) -> ch.NotifyReply:
    """Verify, de-duplicate and settle one channel notification; answer as the channel expects."""
    name = channels.NOTIFY_PATHS[path]
    adapter = channels.get(name)
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        event = adapter.parse_notification(lowered, body, now)
    except ch.NotificationRejected as rejected:
        logger.warning("channel notification rejected", extra={"channel": name, "reason": rejected.reason})
        count("ChannelNotificationRejected", channel=name, reason=rejected.reason)
        return adapter.reply(False, rejected.reason)
    outcome = settle(event, now)
    return adapter.reply(outcome.ack, outcome.result)


def reconcile(attempt: PaymentAttempt, now: datetime) -> Settlement:
    """Ask the channel about a pending attempt and settle what it says (a timed-out charge)."""
    answer = channels.get(attempt.channel).query(payment_ref(attempt))
    if answer.status == ch.PENDING:
        return Settlement(Result.IGNORED, True, attempt)
    event = ch.ChannelEvent.answered(
        attempt.channel, f"query:{attempt.attempt_id}:{answer.status}", attempt.attempt_id, answer
    )
    return settle(event, now)


def simulate_notification(payment_id: str, outcome: str, now: datetime) -> ch.NotifyReply:
    """Play the channel (sandbox): send the payment's signed notification through the real
    notify path. 404 `payment_not_found`, 422 `no_such_notification`."""
    from ...channels import sandbox

    attempt = get_attempt(payment_id)
    if attempt is None or attempt.channel == "wallet":
        raise errors.not_found("payment_not_found", "no such channel payment")
    try:
        path, raw, headers = sandbox.notification(
            attempt.channel, attempt.attempt_id, int(attempt.amount_fen), attempt.currency, outcome, now
        )
    except sandbox.NoSuchNotification as exc:
        raise errors.unprocessable("no_such_notification", str(exc), [errors.FieldError("outcome", str(exc))]) from exc
    return handle_notification(path, headers, raw, now)
