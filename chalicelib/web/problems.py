"""Domain errors on the wire: each kind's HTTP status (one table), the problem+json answer,
and the request id every answer carries."""

from __future__ import annotations

import json

from chalice.app import Request, Response

from .. import errors
from ..edge import REQUEST_ID_HEADER, with_request_id
from ..errors import PROBLEM_JSON, ApiError, DomainError, Raises

# The one table from a domain error's kind to its HTTP status (and the headers that kind
# always carries); the `code` goes on the wire unchanged.
STATUS: dict[type[DomainError], int] = {
    errors.BadRequest: 400,
    errors.Unauthorized: 401,
    errors.PaymentDeclined: 402,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.Unprocessable: 422,
    errors.Locked: 423,
    errors.RateLimited: 429,
    errors.Unavailable: 503,
}
KIND_HEADERS: dict[type[DomainError], dict[str, str]] = {
    errors.Unauthorized: {"WWW-Authenticate": 'Bearer realm="paylater"'},
    errors.Unavailable: {"Retry-After": "1"},
    errors.RateLimited: {"Retry-After": "1"},
}


def problem(err: DomainError) -> ApiError:
    """The problem+json a domain error is on the wire."""
    if isinstance(err, ApiError):
        return err
    kind = next((k for k in type(err).__mro__ if k in STATUS), None)
    if kind is None:
        return ApiError(500, "internal_error", "something went wrong on our side")
    return ApiError(STATUS[kind], err.code, err.detail, err.errors, dict(KIND_HEADERS.get(kind, {})))


def statuses_of(declared: Raises) -> dict[int, list[str]]:
    """A service's declaration as the route documents it: its codes by HTTP status."""
    by_status: dict[int, list[str]] = {}
    for kind, code in sorted(declared.pairs, key=lambda pair: pair[1]):
        status = next(STATUS[k] for k in kind.__mro__ if k in STATUS)
        by_status.setdefault(status, []).append(code)
    return by_status


def problem_response(err: DomainError) -> Response:
    answer = problem(err)
    headers: dict[str, str | list[str]] = {"Content-Type": PROBLEM_JSON, **answer.headers}
    return Response(body=answer.render(), status_code=answer.status, headers=headers)


def gateway_request_id(request: Request) -> str | None:
    ctx = getattr(request, "context", None) or {}
    value = ctx.get("requestId")
    return str(value) if value else None


def stamp(response: Response, request_id: str) -> Response:
    """Every answer carries its request id; a problem body carries it as `request_id`."""
    response.headers[REQUEST_ID_HEADER] = request_id
    content_type = str(response.headers.get("Content-Type", ""))
    if content_type.startswith(PROBLEM_JSON) and isinstance(response.body, str):
        response.body = with_request_id(response.body, request_id)
    return response


def problem_code(body: str) -> str | None:
    try:
        code = json.loads(body).get("code")
    except (ValueError, AttributeError):
        return None
    return code if isinstance(code, str) else None
