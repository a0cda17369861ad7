"""A merchant's webhook endpoints: at most `max_endpoints`, each with its own secret.

The count item of the merchant's partition changes in the same transaction as a create or
delete, so two concurrent creates cannot pass the limit. Another merchant's endpoint is a
404, like a missing one.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from pynamodb.exceptions import DoesNotExist, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from ... import errors, pii
from ...clock import iso, parse_iso
from ...config import settings
from ...db import Tx, condition_failed
from ...models.webhooks import COUNT_ID, DISABLED, ENABLED, WebhookEndpoint
from . import addresses, signing, types
from .outbox import emit

ALL_EVENTS = "*"


@dataclass(frozen=True)
class Created:
    endpoint: WebhookEndpoint
    secret: str  # shown once


def policy() -> addresses.Policy:
    return addresses.Policy(local=settings().is_local)


def endpoint_not_found() -> errors.DomainError:
    return errors.not_found("webhook_endpoint_not_found", "no such webhook endpoint")


NOT_FOUND_ERRORS = errors.raises(not_found=["webhook_endpoint_not_found"])
_EVENT_TYPES_ERRORS = addresses.URL_ERRORS | errors.raises(bad_request=["unknown_event_type"])
CREATE_ERRORS = _EVENT_TYPES_ERRORS | errors.raises(conflict=["too_many_webhook_endpoints"])
UPDATE_ERRORS = NOT_FOUND_ERRORS | _EVENT_TYPES_ERRORS
ROLL_ERRORS = NOT_FOUND_ERRORS | errors.raises(bad_request=["invalid_overlap"], conflict=["state_changed"])


def check_events(events: list[str]) -> list[str]:
    unknown = sorted(set(events) - {*types.ALL, ALL_EVENTS})
    if unknown:
        raise errors.bad_request("unknown_event_type", f"unknown event types: {', '.join(unknown)}")
    return sorted(set(events))


def subscribed(endpoint: WebhookEndpoint, event_type: str) -> bool:
    events = list(endpoint.events or [])
    return event_type == types.PING or ALL_EVENTS in events or event_type in events


def get(merchant_id: str, endpoint_id: str) -> WebhookEndpoint:
    if endpoint_id == COUNT_ID:
        raise endpoint_not_found()
    try:
        return WebhookEndpoint.get(merchant_id, endpoint_id, consistent_read=True)
    except DoesNotExist as exc:
        raise endpoint_not_found() from exc


def list_all(merchant_id: str) -> list[WebhookEndpoint]:
    """The merchant's endpoints, oldest first (at most `max_endpoints`: one page)."""
    items = WebhookEndpoint.query(merchant_id, consistent_read=True)
    return sorted((e for e in items if e.endpoint_id != COUNT_ID), key=lambda e: str(e.created_at))


def create(merchant_id: str, url: str, events: list[str], description: str | None, now: datetime) -> Created:
    addresses.check_literal(url, policy())
    limit = settings().webhooks.max_endpoints
    secret = signing.new_secret()
    endpoint_id = f"we_{secrets.token_hex(8)}"
    endpoint = WebhookEndpoint(
        merchant_id,
        endpoint_id,
        url=url,
        events=check_events(events),
        description=description,
        secret=sealed(endpoint_id, secret),
        status=ENABLED,
        created_at=iso(now),
        updated_at=iso(now),
    )
    tx = Tx()
    tx.save(endpoint, condition=WebhookEndpoint.endpoint_id.does_not_exist())
    tx.update(
        WebhookEndpoint(merchant_id, COUNT_ID),
        [WebhookEndpoint.endpoint_count.add(1)],
        condition=WebhookEndpoint.endpoint_count.does_not_exist() | (WebhookEndpoint.endpoint_count < limit),
        on_fail=errors.conflict("too_many_webhook_endpoints", f"a merchant has at most {limit} webhook endpoints"),
    )
    tx.commit()
    return Created(endpoint, secret)


def update(
    merchant_id: str,
    endpoint_id: str,
    *,
    url: str | None,
    events: list[str] | None,
    description: str | None,
    enabled: bool | None,
    now: datetime,
) -> WebhookEndpoint:
    """Change the URL, events, description; `enabled: true` turns a disabled endpoint back on
    and resends what it missed (nothing is dropped while disabled)."""
    endpoint = get(merchant_id, endpoint_id)
    actions: list[Action] = [WebhookEndpoint.updated_at.set(iso(now))]
    if url is not None:
        addresses.check_literal(url, policy())
        actions.append(WebhookEndpoint.url.set(url))
    if events is not None:
        actions.append(WebhookEndpoint.events.set(check_events(events)))
    if description is not None:
        actions.append(WebhookEndpoint.description.set(description))
    resume_since: str | None = None
    if enabled is True and endpoint.status == DISABLED:
        resume_since = endpoint.failing_since or endpoint.disabled_at
        actions += [
            WebhookEndpoint.status.set(ENABLED),
            WebhookEndpoint.disabled_reason.remove(),
            WebhookEndpoint.disabled_at.remove(),
            WebhookEndpoint.failing_since.remove(),
        ]
    elif enabled is False and endpoint.status == ENABLED:
        actions += [
            WebhookEndpoint.status.set(DISABLED),
            WebhookEndpoint.disabled_reason.set("merchant"),
            WebhookEndpoint.disabled_at.set(iso(now)),
        ]
    _write(endpoint, actions, WebhookEndpoint.secret.exists(), endpoint_not_found())
    if resume_since is not None:
        from . import log  # the log resends; it loads endpoints through this module

        log.replay(merchant_id, endpoint_id, parse_iso(resume_since), now)
    return get(merchant_id, endpoint_id)


def delete(merchant_id: str, endpoint_id: str) -> None:
    endpoint = get(merchant_id, endpoint_id)
    tx = Tx()
    tx.delete(endpoint, condition=WebhookEndpoint.secret.exists(), on_fail=endpoint_not_found())
    tx.update(WebhookEndpoint(merchant_id, COUNT_ID), [WebhookEndpoint.endpoint_count.add(-1)])
    tx.commit()


def roll_secret(merchant_id: str, endpoint_id: str, overlap_seconds: int | None, now: datetime) -> Created:
    """A new secret; the current one keeps signing beside it for the overlap (24 h unless
    asked, at most 7 days; 0 ends it now)."""
    cfg = settings().webhooks
    overlap = cfg.roll_overlap_seconds if overlap_seconds is None else overlap_seconds
    if not 0 <= overlap <= cfg.roll_overlap_max_seconds:
        raise errors.bad_request(
            "invalid_overlap", f"previous_expires_in_seconds is 0 to {cfg.roll_overlap_max_seconds}"
        )
    endpoint = get(merchant_id, endpoint_id)
    secret = signing.new_secret()
    _write(
        endpoint,
        [
            WebhookEndpoint.secret.set(sealed(endpoint_id, secret)),
            WebhookEndpoint.previous_secret.set(str(endpoint.secret)),
            WebhookEndpoint.previous_expires_at.set(iso(now + timedelta(seconds=overlap))),
            WebhookEndpoint.updated_at.set(iso(now)),
        ],
        WebhookEndpoint.secret == endpoint.secret,
        errors.state_changed("the secret was rolled meanwhile; roll again if you still need a new one"),
    )
    return Created(get(merchant_id, endpoint_id), secret)


def _write(endpoint: WebhookEndpoint, actions: list[Action], condition: Condition, moved: errors.DomainError) -> None:
    """An update of an endpoint as read: one deleted meanwhile is a 404, one changed
    meanwhile (`condition` failed) is `moved`."""
    try:
        endpoint.update(actions, condition=condition)
    except UpdateError as exc:
        if not condition_failed(exc):
            raise
        get(str(endpoint.merchant_id), str(endpoint.endpoint_id))  # gone: 404
        raise moved from exc


def sealed(endpoint_id: str, secret: str) -> str:
    """A signing secret as stored: encrypted with the stage's data key, bound to its endpoint."""
    return pii.encrypt(secret, f"webhook-secret:{endpoint_id}")


def active_secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    """The secrets that sign now: the current one, and the previous one during a roll."""
    found = [str(endpoint.secret)]
    if endpoint.previous_secret and endpoint.previous_expires_at and str(endpoint.previous_expires_at) > iso(now):
        found.append(str(endpoint.previous_secret))
    return [pii.decrypt(s, f"webhook-secret:{endpoint.endpoint_id}") for s in found]


def ping(merchant_id: str, endpoint_id: str, now: datetime) -> str:
    """Send a `ping` event to this endpoint only; returns its event id."""
    endpoint = get(merchant_id, endpoint_id)
    tx = Tx()
    event_id = emit(
        tx,
        merchant_id,
        types.PING,
        {"endpoint_id": endpoint.endpoint_id, "url": endpoint.url, "sent_at": iso(now)},
        now,
        only_endpoint=endpoint.endpoint_id,
    )
    tx.commit()
    return event_id
