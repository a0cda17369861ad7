"""The route table the Lambda handler mounts at import, without loading any router.

Chalice must know every path at import; loading the routers for it would load their
schemas (pydantic) and services (PynamoDB, botocore, cryptography) before the first
request. So `app.py` mounts this table: each route's view imports its router module on
its first request (`chalicelib/api/<module>.py`) and from then on is that router's view.
The table (`chalicelib/route_table.py`) is generated from the routers by `make routes`
(`tests/architecture/test_route_table.py` fails when it is stale); `chalicelib.api.all_routers()`
(`api/document.py`) still loads every router (OpenAPI).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from chalice.app import Chalice, Response

from . import lazy
from .edge import ACCEPTED_CONTENT_TYPES, Route, console_cors
from .route_table import ROUTES

__all__ = ["ROUTES", "Route", "mount"]


def _loader(app: Chalice, route: Route) -> Callable[..., Response]:
    view: list[Callable[..., Response]] = []

    def first_use(**params: str) -> Response:
        if view:
            return view[0](app, **params)
        # The route's first request loads its router and whatever its handler needs (the store's
        # client on its first call): without the collector walking what it loads, which stays.
        with lazy.collector_paused():
            from . import web

            module, _, name = route.where.partition(".")
            router = getattr(importlib.import_module(f"chalicelib.api.{module}"), name or "router")
            spec = next(s for s in router.routes if (s.method, s.path) == (route.method, route.path))
            view.append(web.view_of(spec))
            return view[0](app, **params)

    first_use.__name__ = route.name
    return first_use


def mount(app: Chalice, *, include_local: bool, console_origin: str | None) -> None:
    """Register every route of the table; each loads its router on first use."""
    cors = console_cors(console_origin)
    for route in ROUTES:
        if route.local_only and not include_local:
            continue
        app.route(
            route.path,
            methods=[route.method],
            content_types=ACCEPTED_CONTENT_TYPES,
            name=route.name,
            cors=cors if cors is not None and route.console else None,
        )(_loader(app, route))
