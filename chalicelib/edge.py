"""What the HTTP edge needs before any router loads (the route table mounts with it at a
cold start, `routes.py`; the routers' views use it too, `web.py`): the content types every
route accepts and the web console's CORS."""

from __future__ import annotations

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


# Roles whose routes the web console calls: only these answer CORS for the console's origin.
CONSOLE_ROLES = frozenset({"merchant", "reviewer", "support", "risk"})


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
