"""Routes as data: parse, authorize, call a service, render; and the OpenAPI document.

A `Router` records each route with its roles, request/response schemas and error codes
(`router`); `mount` turns them into Chalice views (`views`) that never answer bad input
with a 500: the request is checked and parsed (`request`), the handler runs once per
Idempotency-Key (`execute`), and a domain error becomes problem+json (`problems`).
`openapi` turns the same records into the OpenAPI 3.1 document.
"""

from __future__ import annotations

from .problems import KIND_HEADERS, STATUS, problem, problem_response
from .router import (
    ANY_ROLE,
    CONSUMER,
    FORM,
    JSON,
    MERCHANT,
    PATH_PARAM,
    PUBLIC,
    REVIEWER,
    RISK,
    SUPPORT,
    WRITES,
    Ctx,
    Reply,
    Router,
    RouteSpec,
)
from .views import mount, view_of

__all__ = [
    "ANY_ROLE",
    "CONSUMER",
    "FORM",
    "JSON",
    "KIND_HEADERS",
    "MERCHANT",
    "PATH_PARAM",
    "PUBLIC",
    "REVIEWER",
    "RISK",
    "STATUS",
    "SUPPORT",
    "WRITES",
    "Ctx",
    "Reply",
    "RouteSpec",
    "Router",
    "mount",
    "problem",
    "problem_response",
    "view_of",
]
