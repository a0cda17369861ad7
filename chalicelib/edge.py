"""What the HTTP edge needs before any router loads (the route table mounts with it at a
cold start, `routes.py`; the routers' views use it too, `web`): the content types every
route accepts, the roles, the web console's CORS, and a response as views render it (and
the idempotency records store it) - all without loading jwt or the store."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass

from chalice.app import CORSConfig

from .errors import ApiError

# Chalice answers a content type outside this list itself (not as problem+json), so every
# route accepts these and checks the type it needs in `web.request`.
ACCEPTED_CONTENT_TYPES = [
    "application/json",
    "application/x-www-form-urlencoded",
    "text/plain",
    "application/octet-stream",
    "multipart/form-data",
    "application/xml",
]


ROLES = ("consumer", "merchant", "reviewer", "support", "risk")

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
        expose_headers=["Idempotent-Replayed", "Retry-After", REQUEST_ID_HEADER],
        max_age=600,
    )


@dataclass(frozen=True)
class StoredResponse:
    """A rendered answer: what a view sends, and what an Idempotency-Key replays."""

    status: int
    body: str
    content_type: str


# Every answer names its request: the caller's X-Correlation-Id when it looks like an id
# (it is echoed and logged on every line), else the gateway's request id, else a new one.
REQUEST_ID_HEADER = "X-Request-Id"
CORRELATION_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def correlation_id(value: str | None) -> str | None:
    """The caller's X-Correlation-Id when it looks like an id (anything else is dropped)."""
    return value if value and CORRELATION_ID.match(value) else None


def request_id_for(correlation: str | None, gateway_request_id: str | None = None) -> str:
    return correlation or gateway_request_id or str(uuid.uuid4())


def with_request_id(problem_body: str, request_id: str) -> str:
    """A rendered problem document with its `request_id` (stored answers are kept without
    one: a replay names the request it answers)."""
    text = problem_body.rstrip()
    if not (text.startswith("{") and text.endswith("}")):
        return problem_body
    try:
        if "request_id" in json.loads(text):  # a member, not a field error naming `request_id`
            return problem_body
    except ValueError:
        return problem_body
    member = f'"request_id":{json.dumps(request_id)}'
    return text[:-1] + ("," if text[:-1].strip() != "{" else "") + member + "}" + problem_body[len(text) :]


# API Gateway's own answers (throttling, a method or path no route declares, its 5xx) in
# the shape the code answers in: the deployed template's Gateway Responses
# (scripts/infra.py) render these, and the local server answers its own the same way
# (chalicelib/local/http.py). A gateway answer's `request_id` is API Gateway's request id
# (also its `x-amzn-RequestId` header); a Gateway Response cannot compute X-Request-Id.
NO_SUCH_OPERATION = ApiError(403, "no_such_operation", "no operation has this method and path")
_BUSY = ApiError(503, "temporarily_unavailable", "the service is busy; retry", headers={"Retry-After": "1"})
_THROTTLED = ApiError(429, "rate_limited", "too many requests; retry later", headers={"Retry-After": "1"})
GATEWAY_ANSWERS: dict[str, ApiError] = {
    "THROTTLED": _THROTTLED,
    "QUOTA_EXCEEDED": _THROTTLED,
    "MISSING_AUTHENTICATION_TOKEN": NO_SUCH_OPERATION,  # API Gateway's answer to an unknown route
    "REQUEST_TOO_LARGE": ApiError(413, "payload_too_large", "the body is too large"),
    "UNSUPPORTED_MEDIA_TYPE": ApiError(415, "unsupported_media_type", "send the body as application/json"),
    "INTEGRATION_TIMEOUT": _BUSY,
    "INTEGRATION_FAILURE": _BUSY,
    "DEFAULT_4XX": ApiError(400, "bad_request", "the request is malformed"),
    "DEFAULT_5XX": ApiError(500, "internal_error", "something went wrong on our side"),
}
