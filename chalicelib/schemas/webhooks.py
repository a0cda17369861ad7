"""Merchant webhooks: endpoints and the event log."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StringConstraints
from typing_extensions import TypeAliasType

from .common import NOT_BLANK, STRIP, Body, PageQuery, View, example
from .kinds import EndpointStatus

RFC3339 = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$"
Url = Annotated[str, StringConstraints(min_length=8, max_length=2048, pattern=r"^https?://\S+$")]
WebhookEventType = TypeAliasType(
    "WebhookEventType",
    Literal[
        "*",
        "order.confirmed",
        "order.cancelled",
        "order.received",
        "order.paid",
        "order.overdue",
        "return.requested",
        "return.answered",
        "return.shipped_back",
        "return.refunded",
        "exchange.reshipped",
        "dispute.opened",
        "dispute.decided",
        "message.created",
        "payout.paid",
        "payout.failed",
    ],
)
EventTypes = Annotated[list[WebhookEventType], Field(min_length=1, max_length=20)]


def _a_time(value: str) -> str:
    # A ValueError (e.g. month 13) is the field's 400; so is a time outside years 1-9999 in UTC
    # (`0001-01-01T00:00:00+14:00`), which would overflow when converted.
    try:
        datetime.fromisoformat(value).astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("the time is outside the years 1 to 9999 in UTC") from exc
    return value


# A time sent by a client: RFC 3339 with its offset (`datetime` alone would also take numbers).
Time = Annotated[
    str,
    StringConstraints(pattern=RFC3339),
    AfterValidator(_a_time),
    Field(json_schema_extra={"format": "date-time"}, description="RFC 3339, e.g. 2026-12-07T00:00:00Z"),
]


def time_of(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


Description = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=NOT_BLANK), STRIP]


class EndpointIn(Body):
    model_config = example({"url": "https://shop.example.com/hooks/paylater", "events": ["order.confirmed"]})

    url: Url
    events: EventTypes = Field(description='event types, or ["*"] for all')
    description: Description | None = None


class EndpointUpdate(Body):
    model_config = example({"events": ["*"]})

    url: Url | None = None
    events: EventTypes | None = None
    description: Description | None = None
    enabled: bool | None = Field(default=None, description="true: re-enable, and resend what was missed")


class RollIn(Body):
    model_config = example({"previous_expires_in_seconds": 86400})

    previous_expires_in_seconds: int | None = Field(
        default=None, ge=0, le=7 * 86400, description="how long the old secret keeps signing (default 24 h)"
    )


class ReplayIn(Body):
    model_config = example({"since": "2026-12-07T00:00:00Z"})

    since: Time

    def since_time(self) -> datetime:
        return time_of(self.since)


class RolledSecretView(View):
    expires_at: str


class EndpointView(View):
    endpoint_id: str
    url: str
    events: list[str]
    description: str | None = None
    status: EndpointStatus
    disabled_reason: str | None = Field(default=None, description="gone (410) | failing | merchant")
    disabled_at: str | None = None
    failing_since: str | None = None
    previous_secret_expires_at: str | None = Field(
        default=None, description="after a roll: when the last rolled secret stops signing (the latest of these)"
    )
    previous_secrets: list[RolledSecretView] = Field(
        default_factory=list, description="the rolled secrets still kept, each signing until its `expires_at`"
    )
    created_at: str
    updated_at: str


class EndpointCreated(EndpointView):
    secret: str = Field(description="whsec_...: shown only in this answer")


class EndpointList(View):
    items: list[EndpointView]
    next_cursor: str | None = None


class AttemptView(View):
    endpoint_id: str
    at: str
    status: int = Field(description="the HTTP status, 0 when there was no answer")
    latency_ms: int
    answer: str = Field(description="the first 1 KB of the answer")
    error: str | None = None


class DeliveryView(View):
    endpoint_id: str
    state: Literal["pending", "held", "delivered", "failed"]
    attempts: int
    next_at: str | None = None


class EventView(View):
    event_id: str
    type: str
    created_at: str
    sequence: int
    object_kind: str
    object_id: str
    delivery: str = Field(description="pending | delivered | failed")
    deliveries: list[DeliveryView]
    attempts: list[AttemptView] = Field(description="oldest first")
    body: dict[str, Any] | None = Field(default=None, description="what is sent (with the event alone)")


class EventList(View):
    items: list[EventView]
    next_cursor: str | None = None


class EventsQuery(PageQuery):
    delivery: Literal["pending", "delivered", "failed"] | None = None
    since: Time | None = None

    def since_time(self) -> datetime | None:
        return time_of(self.since) if self.since else None


class TestSent(View):
    event_id: str


class ReplayView(View):
    replayed: int
