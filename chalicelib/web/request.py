"""A request's way in: path parameters checked, the caller verified, the body parsed and
validated (never a 500 for bad input), the query validated; the handler's `Ctx`."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from chalice.app import Request
from pydantic import BaseModel, ValidationError

from .. import errors
from ..config import settings
from ..errors import ApiError, FieldError
from ..observability import bind_user
from ..schemas.common import PATTERN_MESSAGES
from .router import JSON, Ctx, RouteSpec

# A request loads what its route needs: token verification (jwt, cryptography) when the
# route has roles, the store (PynamoDB, botocore) when its handler or its Idempotency-Key
# does; `GET /v1/health` loads neither (tests/architecture/test_cold_start.py).


def prepare(spec: RouteSpec, request: Request, params: dict[str, str]) -> Ctx:
    """The handler's context: the caller, the validated body and query (or a DomainError)."""
    for value in params.values():
        if not spec.param_pattern.match(value or ""):
            raise errors.not_found("not_found", "no such resource")
    principal = None
    if spec.roles:
        from .. import auth, revocation

        principal = auth.verify(request.headers.get("authorization"))
        auth.require_role(principal, spec.roles)
        revocation.ensure_open(principal.user_id)
        bind_user(principal.user_id)
    body = _parse_body(request, spec)
    query = None
    if spec.query is not None:
        query = _validate(spec.query, dict(request.query_params or {}), strict=False, where="query")
    elif request.query_params and spec.method == "GET":
        unknown = sorted(request.query_params)
        raise errors.bad_request(
            "validation_failed",
            "this route takes no query parameters",
            [FieldError(name, "unknown query parameter") for name in unknown],
        )
    return Ctx(principal=principal, body=body, query=query, request=request)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


# Beyond any amount or count we take; larger integral literals stay floats (and fail as such).
_INTEGRAL_LIMIT = Decimal(10**15)


def _number(text: str) -> int | float:
    """JSON Schema counts 26.0 as an integer, and so does the OpenAPI document's `integer`:
    an integral literal (26.0, 2.6e1) is the integer; a fractional one stays a float,
    which an integer field refuses with a 400."""
    value = Decimal(text)
    if value.is_finite() and abs(value) <= _INTEGRAL_LIMIT and value == value.to_integral_value():
        return int(value)
    return float(text)


def _parse_body(request: Request, spec: RouteSpec) -> Any:
    raw = request.raw_body or b""
    if isinstance(raw, str):
        raw = raw.encode()
    if len(raw) > settings().rules.max_body_bytes:
        raise ApiError(413, "payload_too_large", f"the body exceeds {settings().rules.max_body_bytes} bytes")
    if spec.raw_body:
        return raw
    if spec.body is None:
        return None
    content_type = (request.headers.get("content-type") or JSON).split(";")[0].strip().lower()
    if content_type != JSON:
        raise ApiError(415, "unsupported_media_type", "send the body as application/json")
    if not raw.strip():
        raise errors.bad_request("malformed_json", "a JSON body is required")
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant, parse_float=_number)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise errors.bad_request("malformed_json", "the body is not valid UTF-8 JSON") from exc
    return _validate(spec.body, data, strict=True, where="body")


def _message(error: Any) -> str:
    if error["type"] == "string_pattern_mismatch":
        return PATTERN_MESSAGES.get(str(error.get("ctx", {}).get("pattern")), str(error["msg"]))
    return str(error["msg"])


def _validate(model: type[BaseModel], data: Any, *, strict: bool, where: str) -> BaseModel:
    try:
        return model.model_validate(data, strict=strict)
    except ValidationError as exc:
        field_errors = [
            FieldError(".".join(str(p) for p in e["loc"]) or where, _message(e))
            for e in exc.errors(include_url=False, include_input=False)
        ]
        raise errors.bad_request("validation_failed", f"the request {where} is invalid", field_errors) from exc
    except RecursionError as exc:
        raise errors.bad_request("validation_failed", f"the request {where} is nested too deeply") from exc
