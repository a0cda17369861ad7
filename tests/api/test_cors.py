"""Only the web console's browser gets CORS (on the merchant, reviewer and support routes it
calls), and only when its origin is configured."""

from __future__ import annotations

from chalice.app import Chalice
from chalice.test import Client

from chalicelib import web
from chalicelib.api import all_routers
from chalicelib.web import CONSUMER, MERCHANT, REVIEWER, SUPPORT, Ctx, Router

CONSOLE = "https://console.paylater.example"


def _app(origin: str | None) -> Chalice:
    router = Router("test")

    @router.route("/v1/review/things", "GET", roles=REVIEWER)
    def list_things(ctx: Ctx) -> dict[str, str]:
        return {}

    @router.route("/v1/merchant/things", "GET", roles=MERCHANT)
    def merchant_things(ctx: Ctx) -> dict[str, str]:
        return {}

    @router.route("/v1/support/things", "GET", roles=SUPPORT)
    def support_things(ctx: Ctx) -> dict[str, str]:
        return {}

    @router.route("/v1/things", "GET", roles=CONSUMER)
    def my_things(ctx: Ctx) -> dict[str, str]:
        return {}

    app = Chalice(app_name="cors-test")
    web.mount(app, [router], console_origin=origin)
    return app


def test_reviewer_routes_answer_the_console_origin_even_on_errors() -> None:
    with Client(_app(CONSOLE)) as client:
        r = client.http.get("/v1/review/things")
        assert r.status_code == 401
        assert r.headers["Access-Control-Allow-Origin"] == CONSOLE
        assert "Idempotency-Key" in r.headers["Access-Control-Allow-Headers"]
        consumer = client.http.get("/v1/things")
        assert consumer.status_code == 401
        assert "Access-Control-Allow-Origin" not in consumer.headers


def test_without_a_console_origin_nothing_answers_cors() -> None:
    with Client(_app(None)) as client:
        r = client.http.get("/v1/review/things")
        assert "Access-Control-Allow-Origin" not in r.headers


def test_the_console_roles_routes_answer_the_console_origin() -> None:
    with Client(_app(CONSOLE)) as client:
        for path in ("/v1/merchant/things", "/v1/support/things"):
            assert client.http.get(path).headers["Access-Control-Allow-Origin"] == CONSOLE


def test_the_whole_api_mounts_with_a_console_origin() -> None:
    """Chalice needs one CORS setting per path: no path mixes console and app roles."""
    app = Chalice(app_name="cors-all")
    web.mount(app, all_routers(), console_origin=CONSOLE)
    with Client(app) as client:
        r = client.http.get("/v1/review/redemptions")
        assert r.status_code == 401 and r.headers["Access-Control-Allow-Origin"] == CONSOLE
