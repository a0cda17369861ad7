"""Routes as data: parse, authorize, call a service, render; and the OpenAPI document.

A `Router` records each route with its roles, request/response schemas and error codes.
`mount` turns them into Chalice views that never answer bad input with a 500, and
`openapi` turns the same records into the OpenAPI 3.1 document.
"""

from __future__ import annotations

import json
import re
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from chalice.app import Chalice, Request, Response
from pydantic import BaseModel, ValidationError

from . import errors
from .clock import clock
from .config import settings
from .edge import (
    ACCEPTED_CONTENT_TYPES,
    CONSOLE_ROLES,
    REQUEST_ID_HEADER,
    ROLES,
    StoredResponse,
    console_cors,
    correlation_id,
    request_id_for,
    with_request_id,
)
from .errors import PROBLEM_JSON, ApiError, DomainError, FieldError
from .observability import bind_request, bind_user, logger
from .schemas.common import PATTERN_MESSAGES

if TYPE_CHECKING:
    from . import auth, idempotency

# A request loads what its route needs: token verification (jwt, cryptography) when the
# route has roles, the store (PynamoDB, botocore) when its handler or its Idempotency-Key
# does; `GET /v1/health` loads neither (tests/test_cold_start.py).

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
PATH_PARAM = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")

PUBLIC: tuple[str, ...] = ()
CONSUMER = ("consumer",)
MERCHANT = ("merchant",)
REVIEWER = ("reviewer",)
# Platform customer service (快手客服): reads any order's case, decides disputes.
SUPPORT = ("support",)
# Risk operators (风控): decide 先用后付 orders held for review, keep block lists.
RISK = ("risk",)
ANY_ROLE = ROLES
# The methods that change state: each takes an Idempotency-Key (`Router.route`).
WRITES = frozenset({"POST", "PUT"})


@dataclass
class Ctx:
    """What a handler gets: the caller, the validated body and query, and the request."""

    principal: auth.Principal | None
    body: Any
    query: Any
    request: Request
    idem: idempotency.IdemScope | None = None

    @property
    def user_id(self) -> str:
        assert self.principal is not None
        return self.principal.user_id


@dataclass
class Reply:
    """A handler result with an explicit status (otherwise the route's default)."""

    model: BaseModel | dict[str, Any] | str
    status: int | None = None
    content_type: str = JSON
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class RouteSpec:
    path: str
    method: str
    name: str
    handler: Callable[..., Any]
    roles: tuple[str, ...]
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    response: type[BaseModel] | None
    status: int
    errors: dict[int, list[str]]
    idempotent: bool
    summary: str
    render: Callable[[Any], BaseModel | Reply] | None
    raw_body: bool
    tag: str
    local_only: bool
    documented: bool = True
    param_pattern: re.Pattern[str] = PATH_PARAM
    # The Idempotency-Key is claimed by the effect's own transaction (idempotency.TxClaim).
    claim_in_tx: bool = False
    # The key may be left out (the effect is then not replayable); sent, it replays.
    key_optional: bool = False


class Router:
    """Routes of one part of the story. `documented=False` keeps them out of the OpenAPI
    document (the console's files are not API); `param_pattern` is what a path parameter
    must match before the handler runs (ids by default)."""

    def __init__(
        self,
        tag: str,
        *,
        local_only: bool = False,
        documented: bool = True,
        param_pattern: re.Pattern[str] = PATH_PARAM,
    ) -> None:
        self.tag = tag
        self.local_only = local_only
        self.documented = documented
        self.param_pattern = param_pattern
        self.routes: list[RouteSpec] = []

    def route(
        self,
        path: str,
        method: str,
        *,
        roles: tuple[str, ...],
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        response: type[BaseModel] | None = None,
        status: int = 200,
        errors: dict[int, list[str]] | None = None,
        idempotent: bool | None = None,
        render: Callable[[Any], BaseModel | Reply] | None = None,
        raw_body: bool = False,
        claim_in_tx: bool = False,
        key_optional: bool | None = None,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """`idempotent`: True requires an Idempotency-Key (unless `key_optional`); left out,
        every state-changing POST/PUT of a signed-in caller takes an optional one (a
        payment channel's callback and the local stage's dev routes do not); False opts out."""
        if idempotent is None:
            idempotent = method in WRITES and bool(roles) and not raw_body and not self.local_only
            key_optional = idempotent if key_optional is None else key_optional

        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            self.routes.append(
                RouteSpec(
                    path=path,
                    method=method,
                    name=fn.__name__,
                    handler=fn,
                    roles=roles,
                    body=body,
                    query=query,
                    response=response,
                    status=status,
                    errors=errors or {},
                    idempotent=bool(idempotent),
                    summary=(fn.__doc__ or fn.__name__).strip().splitlines()[0],
                    render=render,
                    raw_body=raw_body,
                    tag=self.tag,
                    local_only=self.local_only,
                    documented=self.documented,
                    param_pattern=self.param_pattern,
                    claim_in_tx=claim_in_tx,
                    key_optional=bool(key_optional),
                )
            )
            return fn

        return register


def _json_text(model: BaseModel | dict[str, Any]) -> str:
    data = model.model_dump(mode="json") if isinstance(model, BaseModel) else model
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n"  # a JSON answer ends its line


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


def problem_response(err: DomainError) -> Response:
    answer = problem(err)
    headers: dict[str, str | list[str]] = {"Content-Type": PROBLEM_JSON, **answer.headers}
    return Response(body=answer.render(), status_code=answer.status, headers=headers)


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


def _render(spec: RouteSpec, result: Any) -> StoredResponse:
    if isinstance(result, Reply):
        status = result.status or spec.status
        body = result.model if isinstance(result.model, str) else _json_text(result.model)
        return StoredResponse(status, body, result.content_type)
    model = spec.render(result) if spec.render else result
    if isinstance(model, Reply):  # a renderer that chose the status (e.g. 202 for a held order)
        return _render(spec, model)
    if model is None:
        return StoredResponse(204 if spec.status == 204 else spec.status, "", JSON)
    return StoredResponse(spec.status, _json_text(model), JSON)


def _to_response(stored: StoredResponse, extra: dict[str, str] | None = None) -> Response:
    headers: dict[str, str | list[str]] = {"Content-Type": stored.content_type or JSON, **(extra or {})}
    return Response(body=stored.body, status_code=stored.status, headers=headers)


def _execute(spec: RouteSpec, request: Request, params: dict[str, str]) -> Response:
    for value in params.values():
        if not spec.param_pattern.match(value or ""):
            raise errors.not_found("not_found", "no such resource")
    principal = None
    if spec.roles:
        from . import auth, revocation

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
    ctx = Ctx(principal=principal, body=body, query=query, request=request)
    # An optional key left out is answered afresh; one sent must be a valid key (an empty one is refused).
    if not spec.idempotent or (spec.key_optional and request.headers.get("idempotency-key") is None):
        result = spec.handler(ctx, **params)
        return _to_response(_render(spec, result), result.headers if isinstance(result, Reply) else None)

    from . import idempotency

    key = idempotency.validate_key(request.headers.get("idempotency-key"))
    assert principal is not None
    body_doc = body.model_dump(mode="json") if isinstance(body, BaseModel) else None
    if spec.claim_in_tx:
        return _execute_claimed_in_tx(spec, ctx, params, principal.user_id, key, body_doc)
    claim = idempotency.begin(
        user_id=principal.user_id,
        route=f"{spec.method} {spec.path}",
        key=key,
        req_hash=idempotency.request_hash(spec.method, spec.path, [params, body_doc]),
        now=clock.now(),
        render=lambda result: _render(spec, result),
    )
    if isinstance(claim, idempotency.StoredResponse):
        return _to_response(claim, {"Idempotent-Replayed": "true"})
    ctx.idem = claim
    try:
        result = spec.handler(ctx, **params)
    except DomainError as err:
        answer = problem(err)
        if answer.status >= 500:
            idempotency.abandon(claim)
        else:
            idempotency.finish(claim, StoredResponse(answer.status, answer.render(), PROBLEM_JSON))
        raise
    except Exception:
        idempotency.abandon(claim)
        raise
    stored = claim.staged or _render(spec, result)
    if claim.staged is None:
        idempotency.finish(claim, stored)
    return _to_response(stored, result.headers if isinstance(result, Reply) else None)


def _execute_claimed_in_tx(
    spec: RouteSpec, ctx: Ctx, params: dict[str, str], user_id: str, key: str, body_doc: Any
) -> Response:
    """An idempotent route whose service stages the claim in its transaction: no claim call."""
    from . import idempotency

    claim = idempotency.claim_in_tx(
        user_id=user_id,
        route=f"{spec.method} {spec.path}",
        key=key,
        req_hash=idempotency.request_hash(spec.method, spec.path, [params, body_doc]),
        now=clock.now(),
        render=lambda result: _render(spec, result),
    )
    ctx.idem = claim
    replayed = {"Idempotent-Replayed": "true"}
    try:
        result = spec.handler(ctx, **params)
    except idempotency.KeyTaken:
        return _to_response(idempotency.earlier(claim), replayed)
    except DomainError as err:
        answer = problem(err)
        if answer.status < 500:
            earlier = idempotency.store(claim, StoredResponse(answer.status, answer.render(), PROBLEM_JSON))
            if earlier is not None:
                return _to_response(earlier, replayed)
        raise
    if claim.staged is not None:
        return _to_response(claim.staged)
    stored = _render(spec, result)
    earlier = idempotency.store(claim, stored)
    return _to_response(earlier, replayed) if earlier is not None else _to_response(stored)


def _gateway_request_id(request: Request) -> str | None:
    ctx = getattr(request, "context", None) or {}
    value = ctx.get("requestId")
    return str(value) if value else None


def _stamp(response: Response, request_id: str) -> Response:
    """Every answer carries its request id; a problem body carries it as `request_id`."""
    response.headers[REQUEST_ID_HEADER] = request_id
    content_type = str(response.headers.get("Content-Type", ""))
    if content_type.startswith(PROBLEM_JSON) and isinstance(response.body, str):
        response.body = with_request_id(response.body, request_id)
    return response


def _problem_code(body: str) -> str | None:
    try:
        code = json.loads(body).get("code")
    except (ValueError, AttributeError):
        return None
    return code if isinstance(code, str) else None


def view_of(spec: RouteSpec) -> Callable[..., Response]:
    """The Chalice view of one route (called with the app and the path parameters)."""
    return _view(spec)


def _view(spec: RouteSpec) -> Callable[..., Response]:
    def view(app: Chalice, **params: str) -> Response:
        request = app.current_request
        assert request is not None
        correlation = correlation_id(request.headers.get("x-correlation-id"))
        gateway_id = _gateway_request_id(request)
        request_id = request_id_for(correlation, gateway_id)
        bind_request(request_id, correlation, route=f"{spec.method} {spec.path}", gateway_request_id=gateway_id)
        response = _answer(request, params)
        # One line per request: the status and, for a problem, its stable code (never the body).
        code = None
        if response.status_code >= 400 and isinstance(response.body, str):
            code = _problem_code(response.body)
        route = f"{spec.method} {spec.path}"
        logger.info("request handled", extra={"route": route, "status": response.status_code, "code": code})
        return _stamp(response, request_id)

    def _answer(request: Request, params: dict[str, str]) -> Response:
        try:
            return _execute(spec, request, params)
        except DomainError as err:
            answer = problem(err)
            if answer.status >= 500:
                from .db import describe

                store = describe(err.__cause__) if err.__cause__ is not None else {}
                logger.warning("request failed", extra={"code": answer.code, "status": answer.status, **store})
            return problem_response(answer)
        except Exception as exc:  # noqa: BLE001 - the last line of defence: never a stack trace
            from .db import describe, is_retryable

            store = describe(exc)
            if is_retryable(exc):
                logger.warning("store busy", extra={"error": type(exc).__name__, **store})
                return problem_response(errors.unavailable("temporarily_unavailable", "the store is busy; retry"))
            logger.error(
                "unhandled error",
                extra={"error": type(exc).__name__, "where": traceback.format_tb(exc.__traceback__)[-3:], **store},
            )
            detail = "something went wrong on our side"
            if store:  # a store error says which (its code is no secret; its items are)
                detail = f"the store refused the request ({store.get('store_code') or store.get('store_cause')})"
            return problem_response(ApiError(500, "internal_error", detail))

    return view


def mount(app: Chalice, routers: Iterable[Router], *, console_origin: str | None = None) -> None:
    """Mount every route; the console's routes (merchant, reviewer, support) answer CORS for
    `console_origin` (default: the stage's)."""
    cors = console_cors(console_origin or settings().console_origin)
    for router in routers:
        for spec in router.routes:
            view = _view(spec)

            def bound(_view: Callable[..., Response] = view, **params: str) -> Response:
                return _view(app, **params)

            bound.__name__ = spec.name
            route_cors = cors if cors is not None and CONSOLE_ROLES.intersection(spec.roles) else None
            app.route(
                spec.path,
                methods=[spec.method],
                content_types=ACCEPTED_CONTENT_TYPES,
                name=spec.name,
                cors=route_cors,
            )(bound)
