"""What the HTTP edge needs before any router loads (the route table mounts with it at a
cold start, `routes.py`; the routers' views use it too, `web.py`): the content types every
route accepts, the roles, the web console's CORS, and a response as views render it (and
the idempotency records store it) - all without loading jwt or the store."""

from __future__ import annotations

from dataclasses import dataclass

from chalice.app import CORSConfig

# Chalice answers a content type outside this list itself (not as problem+json), so every
# route accepts these and checks the type it needs in `web._parse_body`.
ACCEPTED_CONTENT_TYPES = [
    "application/json",
    "application/x-www-form-urlencoded",
    "text/plain",
    "application/octet-stream",
    "multipart/form-data",
    "application/xml",
]


ROLES = ("consumer", "merchant", "reviewer", "support")

# Roles whose routes the web console calls: only these answer CORS for the console's origin.
CONSOLE_ROLES = frozenset({"merchant", "reviewer", "support"})


def console_cors(origin: str | None) -> CORSConfig | None:
    """CORS for the web console's browser when it is served from another origin; the
    mobile app needs none."""
    if not origin:
        return None
    return CORSConfig(
        allow_origin=origin,
        allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "X-Correlation-Id"],
        expose_headers=["Idempotent-Replayed", "Retry-After"],
        max_age=600,
    )


@dataclass(frozen=True)
class StoredResponse:
    """A rendered answer: what a view sends, and what an Idempotency-Key replays."""

    status: int
    body: str
    content_type: str
