"""Merchant webhooks: endpoints (the secret shown once), the event log, redelivery, replay."""

from __future__ import annotations

from typing import Any

from .. import pagination
from ..clock import clock
from ..schemas.common import ShortListQuery
from ..schemas.webhooks import (
    AttemptView,
    DeliveryView,
    EndpointCreated,
    EndpointIn,
    EndpointList,
    EndpointUpdate,
    EndpointView,
    EventList,
    EventsQuery,
    EventView,
    ReplayIn,
    ReplayView,
    RolledSecretView,
    RollIn,
    TestSent,
)
from ..services import webhooks
from ..web import MERCHANT, Ctx, Router
from .webhook_objects import render

router = Router("webhooks")
ENDPOINT_404 = {404: ["webhook_endpoint_not_found"]}
EVENT_404 = {404: ["webhook_event_not_found"]}


def endpoint_view(e: webhooks.WebhookEndpoint) -> EndpointView:
    ends = [str(p.expires_at) for p in webhooks.endpoints.previous(e)]
    return EndpointView(
        endpoint_id=e.endpoint_id,
        url=str(e.url),
        events=list(e.events or []),
        description=e.description,
        status="enabled" if e.status == "enabled" else "disabled",
        disabled_reason=e.disabled_reason,
        disabled_at=e.disabled_at,
        failing_since=e.failing_since,
        previous_secret_expires_at=ends[-1] if ends else None,
        previous_secrets=[RolledSecretView(expires_at=end) for end in ends],
        created_at=str(e.created_at),
        updated_at=str(e.updated_at),
    )


def created_view(created: webhooks.endpoints.Created) -> EndpointCreated:
    return EndpointCreated(**endpoint_view(created.endpoint).model_dump(), secret=created.secret)


def event_view(e: webhooks.WebhookEvent, *, with_body: bool = False) -> EventView:
    body: dict[str, Any] | None = None
    if with_body:
        import json

        body = json.loads(webhooks.delivery.body_of(e, render))
    return EventView(
        event_id=e.event_id,
        type=str(e.type),
        created_at=str(e.created_at),
        sequence=int(e.sequence),
        object_kind=str(e.object_kind),
        object_id=str(e.object_id),
        delivery=str(e.delivery),
        deliveries=[
            DeliveryView(endpoint_id=k, state=v["state"], attempts=int(v.get("attempts", 0)), next_at=v.get("next_at"))
            for k, v in sorted(dict(e.deliveries or {}).items())
        ],
        attempts=[AttemptView(**a) for a in e.attempts or []],
        body=body,
    )


@router.route("/v1/merchant/webhook-endpoints", "GET", roles=MERCHANT, query=ShortListQuery, response=EndpointList)
def list_webhook_endpoints(ctx: Ctx) -> EndpointList:
    """The merchant's webhook endpoints (at most 10: one page without `limit`), without their secrets."""
    q: ShortListQuery = ctx.query
    found = webhooks.endpoints.list_all(ctx.user_id)
    page, next_cursor = pagination.page_list(found, q.limit, q.cursor, f"webhook_endpoints:{ctx.user_id}")
    return EndpointList(items=[endpoint_view(e) for e in page], next_cursor=next_cursor)


@router.route(
    "/v1/merchant/webhook-endpoints",
    "POST",
    roles=MERCHANT,
    body=EndpointIn,
    response=EndpointCreated,
    status=201,
    errors=webhooks.endpoints.CREATE_ERRORS,
    idempotent=True,
    key_optional=True,
    claim_in_tx=True,
    render=created_view,
    sealed_answer=True,
)
def create_webhook_endpoint(ctx: Ctx) -> webhooks.endpoints.Created:
    """Add an endpoint (https; never a private address): its `whsec_` secret is shown only
    in this answer."""
    body: EndpointIn = ctx.body
    events: list[str] = list(body.events)
    return webhooks.endpoints.create(ctx.user_id, body.url, events, body.description, clock.now(), idem=ctx.idem)


@router.route(
    "/v1/merchant/webhook-endpoints/{endpoint_id}",
    "GET",
    roles=MERCHANT,
    response=EndpointView,
    errors=webhooks.endpoints.NOT_FOUND_ERRORS,
)
def get_webhook_endpoint(ctx: Ctx, endpoint_id: str) -> EndpointView:
    """One endpoint (without its secret)."""
    return endpoint_view(webhooks.endpoints.get(ctx.user_id, endpoint_id))


@router.route(
    "/v1/merchant/webhook-endpoints/{endpoint_id}",
    "PUT",
    roles=MERCHANT,
    body=EndpointUpdate,
    response=EndpointView,
    errors=webhooks.endpoints.UPDATE_ERRORS,
    idempotent=True,
    key_optional=True,
    claim_in_tx=True,
    render=endpoint_view,
)
def update_webhook_endpoint(ctx: Ctx, endpoint_id: str) -> webhooks.WebhookEndpoint:
    """Change the URL, events or description; `enabled: true` turns a disabled endpoint on
    again and resends the events it missed."""
    b: EndpointUpdate = ctx.body
    return webhooks.endpoints.update(
        ctx.user_id,
        endpoint_id,
        url=b.url,
        events=None if b.events is None else list(b.events),
        description=b.description,
        enabled=b.enabled,
        now=clock.now(),
        idem=ctx.idem,
    )


@router.route(
    "/v1/merchant/webhook-endpoints/{endpoint_id}",
    "DELETE",
    roles=MERCHANT,
    status=204,
    errors=webhooks.endpoints.NOT_FOUND_ERRORS,
)
def delete_webhook_endpoint(ctx: Ctx, endpoint_id: str) -> None:
    """Remove an endpoint; nothing more is sent to it."""
    webhooks.endpoints.delete(ctx.user_id, endpoint_id)


@router.route(
    "/v1/merchant/webhook-endpoints/{endpoint_id}/secret",
    "POST",
    roles=MERCHANT,
    body=RollIn,
    response=EndpointCreated,
    errors=webhooks.endpoints.ROLL_ERRORS,
    idempotent=True,
    key_optional=True,
    claim_in_tx=True,
    render=created_view,
    sealed_answer=True,
)
def roll_webhook_secret(ctx: Ctx, endpoint_id: str) -> webhooks.endpoints.Created:
    """A new secret (shown once); the old one keeps signing beside it for
    `previous_expires_in_seconds` (24 h unless asked, at most 7 days)."""
    b: RollIn = ctx.body
    overlap = b.previous_expires_in_seconds
    return webhooks.endpoints.roll_secret(ctx.user_id, endpoint_id, overlap, clock.now(), idem=ctx.idem)


@router.route(
    "/v1/merchant/webhook-endpoints/{endpoint_id}/test",
    "POST",
    roles=MERCHANT,
    response=TestSent,
    status=202,
    errors=webhooks.endpoints.NOT_FOUND_ERRORS,
    idempotent=True,
    key_optional=True,
    claim_in_tx=True,
    render=lambda event_id: TestSent(event_id=event_id),
)
def test_webhook_endpoint(ctx: Ctx, endpoint_id: str) -> str:
    """Send a `ping` event to this endpoint (see it in the event log)."""
    return webhooks.endpoints.ping(ctx.user_id, endpoint_id, clock.now(), idem=ctx.idem)


@router.route(
    "/v1/merchant/webhook-endpoints/{endpoint_id}/replay",
    "POST",
    roles=MERCHANT,
    body=ReplayIn,
    response=ReplayView,
    status=202,
    errors=webhooks.endpoints.NOT_FOUND_ERRORS,
    idempotent=True,
    key_optional=True,
    claim_in_tx=True,
    render=lambda replayed: ReplayView(replayed=replayed),
)
def replay_webhook_events(ctx: Ctx, endpoint_id: str) -> int:
    """Send every event since `since` (30 days at most) to this endpoint again."""
    b: ReplayIn = ctx.body
    return webhooks.endpoints.replay(ctx.user_id, endpoint_id, b.since_time(), clock.now(), idem=ctx.idem)


@router.route("/v1/merchant/webhook-events", "GET", roles=MERCHANT, query=EventsQuery, response=EventList)
def list_webhook_events(ctx: Ctx) -> EventList:
    """The last 30 days of events, newest first, with their attempts; `delivery` narrows to
    pending, delivered or failed ones, `since` to those after a time."""
    q: EventsQuery = ctx.query
    page = webhooks.log.events(ctx.user_id, q.delivery, q.since_time(), q.limit, q.cursor)
    return EventList(items=[event_view(e) for e in page.items], next_cursor=page.next_cursor)


@router.route(
    "/v1/merchant/webhook-events/{event_id}",
    "GET",
    roles=MERCHANT,
    response=EventView,
    errors=webhooks.log.NOT_FOUND_ERRORS,
)
def get_webhook_event(ctx: Ctx, event_id: str) -> EventView:
    """One event: its body as sent, each endpoint's state, every attempt."""
    return event_view(webhooks.log.get(ctx.user_id, event_id), with_body=True)


@router.route(
    "/v1/merchant/webhook-events/{event_id}/redelivery",
    "POST",
    roles=MERCHANT,
    response=EventView,
    status=202,
    errors=webhooks.log.REDELIVER_ERRORS,
    idempotent=True,
    key_optional=True,
    claim_in_tx=True,
    render=event_view,
)
def redeliver_webhook_event(ctx: Ctx, event_id: str) -> webhooks.WebhookEvent:
    """Send one event again, with the same `webhook-id`, to every endpoint it is for."""
    return webhooks.log.redeliver(ctx.user_id, event_id, clock.now(), idem=ctx.idem)
