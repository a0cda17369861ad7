"""A merchant's webhook endpoints: at most `max_endpoints`, each with its own secret.

The count item of the merchant's partition changes in the same transaction as a create or
delete, so two concurrent creates cannot pass the limit. Another merchant's endpoint is a
404, like a missing one.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.update import Action

from ... import errors, pii
from ...clock import iso, parse_iso
from ...config import settings
from ...db import Tx
from ...idempotency import IdemScope
from ...models.webhooks import COUNT_ID, DISABLED, ENABLED, PreviousSecret, WebhookEndpoint
from . import addresses, signing, types
from .outbox import applied, emit

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
ROLL_ERRORS = NOT_FOUND_ERRORS | errors.raises(
    bad_request=["invalid_overlap"], conflict=["state_changed", "too_many_signing_secrets"]
)


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


def create(
    merchant_id: str, url: str, events: list[str], description: str | None, now: datetime, idem: IdemScope | None = None
) -> Created:
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
    created = Created(endpoint, secret)
    if idem is not None:
        idem.stage(tx, created)
    tx.commit()
    return created


def update(
    merchant_id: str,
    endpoint_id: str,
    *,
    url: str | None,
    events: list[str] | None,
    description: str | None,
    enabled: bool | None,
    now: datetime,
    idem: IdemScope | None = None,
) -> WebhookEndpoint:
    """Change the URL, events, description; `enabled: true` turns a disabled endpoint back on
    and resends what it missed (nothing is dropped while disabled). Answers the endpoint as
    the write left it."""
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
    changed = _write(endpoint, actions, WebhookEndpoint.secret.exists(), endpoint_not_found(), idem)
    if resume_since is not None:
        from . import log  # the log resends; it loads endpoints through this module

        log.replay(merchant_id, endpoint_id, parse_iso(resume_since), now)
    return changed


def _write(
    endpoint: WebhookEndpoint,
    actions: list[Action],
    condition: Any,
    on_fail: errors.DomainError,
    idem: IdemScope | None,
    secret: str | None = None,
) -> WebhookEndpoint:
    """One transaction: the change, and the Idempotency-Key's answer (the endpoint as changed,
    with the new `secret` when there is one: shown in this answer only)."""
    changed = applied(endpoint, actions)
    tx = Tx()
    tx.update(endpoint, actions, condition=condition, on_fail=on_fail)
    if idem is not None:
        idem.stage(tx, changed if secret is None else Created(changed, secret))
    tx.commit()
    return changed


def delete(merchant_id: str, endpoint_id: str) -> None:
    endpoint = get(merchant_id, endpoint_id)
    tx = Tx()
    tx.delete(endpoint, condition=WebhookEndpoint.secret.exists(), on_fail=endpoint_not_found())
    tx.update(WebhookEndpoint(merchant_id, COUNT_ID), [WebhookEndpoint.endpoint_count.add(-1)])
    tx.commit()


def roll_secret(
    merchant_id: str, endpoint_id: str, overlap_seconds: int | None, now: datetime, idem: IdemScope | None = None
) -> Created:
    """A new secret; the current one keeps signing beside it for the overlap (24 h unless
    asked, at most 7 days; 0 ends it now), and so does every earlier one until its own
    expiry: at most `max_previous_secrets` of them, a roll past that is a 409
    `too_many_signing_secrets` (one with overlap 0 adds none). Two rolls at once: one wins,
    the other is a 409 `state_changed` (its secret would never sign)."""
    cfg = settings().webhooks
    overlap = cfg.roll_overlap_seconds if overlap_seconds is None else overlap_seconds
    if not 0 <= overlap <= cfg.roll_overlap_max_seconds:
        raise errors.bad_request(
            "invalid_overlap", f"previous_expires_in_seconds is 0 to {cfg.roll_overlap_max_seconds}"
        )
    endpoint = get(merchant_id, endpoint_id)
    kept = [p for p in previous(endpoint) if str(p.expires_at) > iso(now)]
    if overlap > 0:
        if len(kept) >= cfg.max_previous_secrets:
            ends = min(str(p.expires_at) for p in kept)
            raise errors.conflict(
                "too_many_signing_secrets",
                f"at most {cfg.max_previous_secrets} rolled secrets sign beside the current one; the next "
                f"stops at {ends} (or roll with previous_expires_in_seconds 0)",
            )
        kept.append(PreviousSecret.of(str(endpoint.secret), iso(now + timedelta(seconds=overlap))))
    secret = signing.new_secret()
    actions: list[Action] = [
        WebhookEndpoint.secret.set(sealed(endpoint_id, secret)),
        WebhookEndpoint.previous_secrets.set(kept) if kept else WebhookEndpoint.previous_secrets.remove(),
        WebhookEndpoint.previous_secret.remove(),
        WebhookEndpoint.previous_expires_at.remove(),
        WebhookEndpoint.updated_at.set(iso(now)),
    ]
    rolled = errors.state_changed("the secret was rolled meanwhile; reload and retry")
    changed = _write(endpoint, actions, WebhookEndpoint.secret == endpoint.secret, rolled, idem, secret)
    return Created(changed, secret)


def sealed(endpoint_id: str, secret: str) -> str:
    """A signing secret as stored: encrypted with the stage's data key, bound to its endpoint."""
    return pii.encrypt(secret, f"webhook-secret:{endpoint_id}")


def previous(endpoint: WebhookEndpoint) -> list[PreviousSecret]:
    """The rolled secrets kept (sealed), oldest expiry first; live or not."""
    kept = list(endpoint.previous_secrets or [])
    if endpoint.previous_secret and endpoint.previous_expires_at:  # written before several were kept
        kept.append(PreviousSecret.of(str(endpoint.previous_secret), str(endpoint.previous_expires_at)))
    return sorted(kept, key=lambda p: str(p.expires_at))


def active_secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    """The secrets that sign now: the current one, and every rolled one before its expiry."""
    found = [str(endpoint.secret)] + [str(p.secret) for p in previous(endpoint) if str(p.expires_at) > iso(now)]
    return [pii.decrypt(s, f"webhook-secret:{endpoint.endpoint_id}") for s in found]


def replay(merchant_id: str, endpoint_id: str, since: datetime, now: datetime, idem: IdemScope | None = None) -> int:
    """Send every event since `since` to this endpoint again (a missing one is a 404: a
    condition of the resending transactions, no read of its own); returns how many."""
    if endpoint_id == COUNT_ID:
        raise endpoint_not_found()
    from . import log  # the log resends; it loads endpoints through this module

    def exists(tx: Tx) -> None:
        condition = WebhookEndpoint.secret.exists()
        tx.check(WebhookEndpoint, merchant_id, endpoint_id, condition=condition, on_fail=endpoint_not_found())

    return log.replay(merchant_id, endpoint_id, since, now, idem, check=exists)


def ping(merchant_id: str, endpoint_id: str, now: datetime, idem: IdemScope | None = None) -> str:
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
    if idem is not None:
        idem.stage(tx, event_id)
    tx.commit()
    return event_id
