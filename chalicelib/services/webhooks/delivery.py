"""The delivery worker: sign, post, record each attempt, and set the next one.

An event is looked at when its queue message arrives (right after the change committed, or
a short retry's delayed message) or when its timer falls due (`deliver_webhooks` sweeps
them: long waits, and the safety net for a lost message). Every look is one conditional
write of the event (its attempts and each endpoint's state), its next timer and the
endpoints' health: two workers on the same event cannot both record, and a retry sends the
same `webhook-id` and body. Delivery is at least once; receivers deduplicate by the id.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from ... import errors, timers
from ...clock import iso, parse_iso
from ...config import settings
from ...db import Tx
from ...models.timers import Timer
from ...models.webhooks import DELIVERED, DISABLED, ENABLED, FAILED, PENDING, WebhookEndpoint, WebhookEvent
from ...observability import count, logger
from .. import notifications
from . import addresses, endpoints, event_keys, sender, signing
from .outbox import enqueue, retime

# An endpoint kept from sending (disabled): its deliveries wait, and re-enabling resends them.
HELD = "held"
MAX_ATTEMPTS_KEPT = 50
# SQS delays a message at most this long; a longer wait is a timer.
MAX_QUEUE_DELAY = 900
NOTIFY_DISABLED = "webhook_endpoint_disabled"
DELIVERY_ERRORS = errors.raises(conflict=["webhook_event_busy"])  # another worker has the event

# Renders an event's snapshot as the merchant API shows it: (object kind, snapshot) -> JSON object.
Render = Callable[[str, dict[str, Any]], dict[str, Any]]
# Posts one delivery: (url, body, headers) -> answer. The default checks the address first.
Send = Callable[[str, bytes, dict[str, str]], sender.Answer]


def http_send(resolver: addresses.Resolver = addresses.system_resolver) -> Send:
    """Post after resolving the URL's host and checking every address (SSRF rules)."""

    def send(url: str, body: bytes, headers: dict[str, str]) -> sender.Answer:
        try:
            target = addresses.resolve(url, endpoints.policy(), resolver)
        except errors.DomainError as err:
            return sender.Answer(0, 0, "", error=err.code)
        cfg = settings().webhooks
        return sender.post(target, body, headers, timeout=cfg.timeout_seconds, keep_bytes=cfg.answer_bytes)

    return send


def body_of(event: WebhookEvent, render: Render) -> str:
    """The JSON body of `event` (the same on every attempt)."""
    return json.dumps(
        {
            "id": event.event_id,
            "type": event.type,
            "created_at": event.created_at,
            "sequence": int(event.sequence),
            "data": {"object": render(str(event.object_kind), dict(event.snapshot))},
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def retry_delay(attempts: int, retry_after: str | None, now: datetime) -> timedelta | None:
    """The wait before the next attempt after `attempts` failed ones (None: give up).

    The schedule's step with ±jitter, or longer if the receiver asked (`Retry-After`,
    capped at the schedule's longest step).
    """
    cfg = settings().webhooks
    if attempts > len(cfg.retry_schedule):
        return None
    step = cfg.retry_schedule[attempts - 1]
    wait = step * (1 + random.uniform(-cfg.jitter_percent, cfg.jitter_percent) / 100)  # noqa: S311 - spread, not secrecy
    asked = _retry_after_seconds(retry_after, now)
    if asked is not None:
        wait = max(wait, min(asked, max(cfg.retry_schedule)))
    return timedelta(seconds=max(1.0, wait))


def _retry_after_seconds(value: str | None, now: datetime) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value).astimezone(UTC) - now).total_seconds())
    except OverflowError:  # a date after year 9999 in UTC (31 Dec 9999 -1400): as late as can be
        return float("inf")
    except (TypeError, ValueError):
        return None


@dataclass
class Outcome:
    attempted: int = 0
    delivered: int = 0
    failed: int = 0


def deliver(
    merchant_id: str, event_id: str, now: datetime, render: Render, send: Send, *, taken: Timer | None = None
) -> Outcome:
    """Attempt every due delivery of one event, and record what happened."""
    event = event_keys.find(merchant_id, event_id)
    if event is None:  # purged with a closed account's data: its timer goes too
        if taken is not None:
            _drop(taken)
        return Outcome()
    targets = [
        e
        for e in endpoints.list_all(merchant_id)
        if endpoints.subscribed(e, str(event.type)) and event.only_endpoint in (None, e.endpoint_id)
    ]
    # An endpoint deleted (or no longer subscribed) is owed nothing more; what it got stays logged.
    current = {e.endpoint_id for e in targets}
    states: dict[str, dict[str, Any]] = {
        k: dict(v)
        for k, v in dict(event.deliveries or {}).items()
        if k in current or v.get("state") in (DELIVERED, FAILED)
    }
    attempts: list[dict[str, Any]] = list(event.attempts or [])
    body = body_of(event, render)
    tx = Tx()
    outcome = Outcome()
    for endpoint in targets:
        state = states.setdefault(endpoint.endpoint_id, {"state": PENDING, "attempts": 0, "next_at": iso(now)})
        if state["state"] in (DELIVERED, FAILED) or state.get("next_at", "") > iso(now):
            continue
        if endpoint.status != ENABLED:
            state["state"] = HELD
            continue
        headers = signing.headers(event.event_id, body, endpoints.active_secrets(endpoint, now), datetime.now(UTC))
        answer = send(str(endpoint.url), body.encode(), headers)
        outcome.attempted += 1
        attempts.append(_attempt(endpoint.endpoint_id, answer, now))
        state["attempts"] = int(state.get("attempts", 0)) + 1
        state["last_status"] = answer.status
        if 200 <= answer.status < 300:
            state["state"], outcome.delivered = DELIVERED, outcome.delivered + 1
            state.pop("next_at", None)
            if endpoint.failing_since:
                tx.update(endpoint, [WebhookEndpoint.failing_since.remove()], condition=WebhookEndpoint.secret.exists())
            continue
        outcome.failed += 1
        if answer.status == 410:
            state["state"] = HELD
            _disable(tx, endpoint, "gone", now)
            continue
        wait = retry_delay(state["attempts"], answer.retry_after, now)
        if wait is None:
            state["state"] = FAILED
            state.pop("next_at", None)
        else:
            state["state"], state["next_at"] = PENDING, iso(now + wait)
        _failing(tx, endpoint, now)
    next_at = min((s["next_at"] for s in states.values() if s["state"] == PENDING and s.get("next_at")), default=None)
    tx.update(
        event,
        [
            WebhookEvent.deliveries.set(states),
            WebhookEvent.attempts.set(attempts[-MAX_ATTEMPTS_KEPT:]),
            WebhookEvent.delivery.set(summary(states)),
            WebhookEvent.version.set(int(event.version or 0) + 1),
            retime(tx, event, next_at, taken),
        ],
        condition=WebhookEvent.version == int(event.version or 0),
        on_fail=errors.conflict("webhook_event_busy", "another worker recorded this event"),
    )
    tx.commit()
    count("WebhookAttempts", outcome.attempted)
    if next_at is not None and not settings().is_local:
        delay = (parse_iso(next_at) - now).total_seconds()
        if delay <= MAX_QUEUE_DELAY:  # a short wait rides the queue; its timer stays the net
            enqueue(merchant_id, event_id, max(0, int(delay) + 1))
    return outcome


def _drop(taken: Timer) -> None:
    tx = Tx()
    timers.take(tx, taken)
    try:
        tx.commit()
    except errors.Conflict:
        pass  # another run took it


def summary(states: dict[str, dict[str, Any]]) -> str:
    """pending while any endpoint still waits; failed if any gave up; else delivered."""
    kinds = {s["state"] for s in states.values()}
    if kinds & {PENDING, HELD}:
        return PENDING
    if FAILED in kinds:
        return FAILED
    return DELIVERED


def _attempt(endpoint_id: str, answer: sender.Answer, now: datetime) -> dict[str, Any]:
    record: dict[str, Any] = {
        "endpoint_id": endpoint_id,
        "at": iso(now),
        "status": answer.status,
        "latency_ms": answer.latency_ms,
        "answer": answer.text[: settings().webhooks.answer_bytes],
    }
    if answer.error:
        record["error"] = answer.error
    return record


def _failing(tx: Tx, endpoint: WebhookEndpoint, now: datetime) -> None:
    """A failed attempt: start the failing streak, or disable an endpoint failing too long."""
    if not endpoint.failing_since:
        tx.update(
            endpoint,
            [WebhookEndpoint.failing_since.set(iso(now))],
            condition=WebhookEndpoint.failing_since.does_not_exist(),
        )
        endpoint.failing_since = iso(now)
        return
    limit = timedelta(seconds=settings().webhooks.disable_after_seconds)
    if now - parse_iso(str(endpoint.failing_since)) >= limit:
        _disable(tx, endpoint, "failing", now)


def _disable(tx: Tx, endpoint: WebhookEndpoint, reason: str, now: datetime) -> None:
    if endpoint.status == DISABLED:
        return
    tx.update(
        endpoint,
        [
            WebhookEndpoint.status.set(DISABLED),
            WebhookEndpoint.disabled_reason.set(reason),
            WebhookEndpoint.disabled_at.set(iso(now)),
        ],
        condition=WebhookEndpoint.status == ENABLED,
    )
    endpoint.status = DISABLED
    notifications.notify(
        tx,
        str(endpoint.merchant_id),
        NOTIFY_DISABLED,
        "Webhook endpoint disabled (已停用)",
        f"{endpoint.url}: {'the receiver answered 410 Gone' if reason == 'gone' else 'failing for 5 days'};"
        " events wait and are resent when you enable it again",
        endpoint.endpoint_id,
        f"webhook:{endpoint.endpoint_id}:disabled:{iso(now)}",
        now,
    )
    count("WebhookEndpointsDisabled")
    logger.info("webhook endpoint disabled", extra={"endpoint_id": endpoint.endpoint_id, "reason": reason})


# --- entry points -----------------------------------------------------------------------------


def handle_batch(event: dict[str, Any], render: Render, now: datetime, send: Send | None = None) -> dict[str, Any]:
    """The queue handler: one message per event; a record that failed is retried by SQS."""
    failures = []
    deliver_one = send or http_send()
    for record in event.get("Records", []):
        try:
            ref = json.loads(record["body"])
            deliver(str(ref["merchant_id"]), str(ref["event_id"]), now, render, deliver_one)
        except errors.Conflict:
            continue  # another worker recorded it: its timer carries what is left
        except Exception as exc:  # noqa: BLE001 - SQS redelivers the record, then its DLQ
            logger.warning("webhook delivery failed", extra={"error": type(exc).__name__})
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}


def deliver_due(now: datetime, render: Render, send: Send | None = None) -> dict[str, int]:
    """The sweep: deliver every event whose timer is due (long waits, lost messages)."""
    deliver_one = send or http_send()

    def act(item: Timer) -> bool:
        merchant_id = str((item.data or {}).get("merchant_id", ""))
        deliver(merchant_id, str(item.ref), now, render, deliver_one, taken=item)
        return True

    return timers.sweep(timers.WEBHOOK_DELIVERY, now, act)
