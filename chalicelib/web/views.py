"""Routes mounted as Chalice views: each answers with its route's result or a problem+json
(never a stack trace), logs one line, and stamps the request id."""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterable

from chalice.app import Chalice, Request, Response

from .. import errors
from ..config import settings
from ..edge import ACCEPTED_CONTENT_TYPES, CONSOLE_ROLES, console_cors, correlation_id, request_id_for
from ..errors import ApiError, DomainError
from ..observability import bind_request, logger
from .execute import execute
from .problems import gateway_request_id, problem, problem_code, problem_response, stamp
from .router import Router, RouteSpec


def view_of(spec: RouteSpec) -> Callable[..., Response]:
    """The Chalice view of one route (called with the app and the path parameters)."""
    return _view(spec)


def _view(spec: RouteSpec) -> Callable[..., Response]:
    def view(app: Chalice, **params: str) -> Response:
        request = app.current_request
        assert request is not None
        correlation = correlation_id(request.headers.get("x-correlation-id"))
        gateway_id = gateway_request_id(request)
        request_id = request_id_for(correlation, gateway_id)
        bind_request(request_id, correlation, route=f"{spec.method} {spec.path}", gateway_request_id=gateway_id)
        response = _answer(request, params)
        # One line per request: the status and, for a problem, its stable code (never the body).
        code = None
        if response.status_code >= 400 and isinstance(response.body, str):
            code = problem_code(response.body)
        route = f"{spec.method} {spec.path}"
        logger.info("request handled", extra={"route": route, "status": response.status_code, "code": code})
        return stamp(response, request_id)

    def _answer(request: Request, params: dict[str, str]) -> Response:
        try:
            return execute(spec, request, params)
        except DomainError as err:
            answer = problem(err)
            if answer.status >= 500:
                from ..db import describe

                store = describe(err.__cause__) if err.__cause__ is not None else {}
                logger.warning("request failed", extra={"code": answer.code, "status": answer.status, **store})
            return problem_response(answer)
        except Exception as exc:  # noqa: BLE001 - the last line of defence: never a stack trace
            from ..db import describe, is_retryable

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
