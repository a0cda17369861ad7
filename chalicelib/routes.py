"""The route table the Lambda handler mounts at import, without loading any router.

Chalice must know every path at import; loading the routers for it would load their
schemas (pydantic) and services (PynamoDB, botocore, cryptography) before the first
request. So `app.py` mounts this table: each route's view imports its router module on
its first request (`chalicelib/api/<module>.py`) and from then on is that router's view.
`tests/test_route_table.py` checks the table lists exactly the routers' routes (it prints
the lines to add); `chalicelib.api.all_routers()` (`api/document.py`) still loads every router (OpenAPI).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, NamedTuple

from chalice.app import Chalice, Response

from .edge import ACCEPTED_CONTENT_TYPES, CONSOLE_ROLES, console_cors


class Route(NamedTuple):
    where: str  # "<module>" (its `router`) or "<module>.<router>", in chalicelib/api/
    method: str
    path: str
    name: str
    console: bool = False  # a console role may call it: answers CORS for the console's origin
    local_only: bool = False


ROUTES = [
    Route("system", "GET", "/v1/health", "get_health"),
    Route("document", "GET", "/v1/openapi.json", "get_openapi_document"),
    Route("me", "GET", "/v1/me", "get_me", console=True),
    Route("me", "POST", "/v1/me/identity", "submit_identity"),
    Route("me", "POST", "/v1/me/bank-cards", "add_bank_card"),
    Route("me", "GET", "/v1/me/bank-cards", "list_bank_cards"),
    Route("me", "DELETE", "/v1/me/bank-cards/{card_id}", "remove_bank_card"),
    Route("me", "PUT", "/v1/me/payment-password", "set_payment_password"),
    Route("me", "POST", "/v1/me/devices", "register_device"),
    Route("privacy", "GET", "/v1/me/data-export", "data_export", console=True),
    Route("privacy", "POST", "/v1/me/closure", "close_account"),
    Route("me", "PUT", "/v1/me/bank-cards/{card_id}/default", "set_default_bank_card"),
    Route("bnpl", "GET", "/v1/bnpl/agreement", "get_agreement"),
    Route("bnpl", "POST", "/v1/bnpl/activation", "activate_bnpl"),
    Route("bnpl", "GET", "/v1/bnpl/plans", "get_plans"),
    Route("installments", "GET", "/v1/orders/{order_id}/installments", "get_order_installments"),
    Route("installments", "GET", "/v1/bnpl/bills/{month}", "get_bill"),
    Route("installments", "POST", "/v1/bnpl/bills/{month}/payments", "pay_bill"),
    Route(
        "installments",
        "GET",
        "/v1/merchant/orders/{order_id}/installments",
        "get_merchant_order_installments",
        console=True,
    ),
    Route(
        "installments",
        "GET",
        "/v1/support/orders/{order_id}/installments",
        "get_support_order_installments",
        console=True,
    ),
    Route("wallet", "GET", "/v1/wallet", "get_wallet"),
    Route("wallet", "GET", "/v1/wallet/entries", "list_wallet_entries"),
    Route("wallet", "GET", "/v1/wallet/coupons", "list_coupons"),
    Route("wallet", "POST", "/v1/wallet/redemptions", "request_redemption"),
    Route("wallet", "GET", "/v1/wallet/redemptions", "list_redemptions"),
    Route("wallet", "GET", "/v1/wallet/redemptions/{redemption_id}", "get_redemption"),
    Route("catalog", "GET", "/v1/products", "list_products", console=True),
    Route("catalog", "GET", "/v1/products/{product_id}", "get_product", console=True),
    Route("catalog", "POST", "/v1/merchant/products", "create_product", console=True),
    Route("catalog", "PUT", "/v1/merchant/products/{product_id}", "update_product", console=True),
    Route("catalog", "GET", "/v1/cart", "get_cart"),
    Route("catalog", "PUT", "/v1/cart/items/{sku_id}", "put_cart_item"),
    Route("catalog", "DELETE", "/v1/cart/items/{sku_id}", "delete_cart_item"),
    Route("orders", "POST", "/v1/checkout", "create_checkout"),
    Route("orders", "POST", "/v1/orders/{order_id}/confirmation", "confirm_order"),
    Route("orders", "GET", "/v1/orders", "list_orders"),
    Route("orders", "GET", "/v1/orders/{order_id}", "get_order"),
    Route("orders", "POST", "/v1/orders/{order_id}/cancel", "cancel_order"),
    Route("messages", "GET", "/v1/orders/{order_id}/messages", "list_order_messages"),
    Route("messages", "POST", "/v1/orders/{order_id}/messages", "send_order_message"),
    Route("messages", "GET", "/v1/merchant/orders/{order_id}/messages", "list_merchant_order_messages", console=True),
    Route("messages", "POST", "/v1/merchant/orders/{order_id}/messages", "send_merchant_order_message", console=True),
    Route("messages", "GET", "/v1/support/orders/{order_id}/messages", "support_order_messages", console=True),
    Route("aftersale", "GET", "/v1/support/orders/{order_id}", "get_support_order", console=True),
    Route("addresses", "GET", "/v1/me/addresses", "list_addresses"),
    Route("addresses", "POST", "/v1/me/addresses", "add_address"),
    Route("addresses", "PUT", "/v1/me/addresses/{address_id}", "update_address"),
    Route("addresses", "DELETE", "/v1/me/addresses/{address_id}", "delete_address"),
    Route("fulfilment", "GET", "/v1/merchant/orders", "list_merchant_orders", console=True),
    Route("fulfilment", "GET", "/v1/merchant/orders/{order_id}", "get_merchant_order", console=True),
    Route("fulfilment", "POST", "/v1/merchant/orders/{order_id}/shipment", "ship_order", console=True),
    Route("fulfilment", "GET", "/v1/merchant/return-requests", "list_return_requests", console=True),
    Route("fulfilment", "POST", "/v1/merchant/return-requests/{request_id}/decision", "decide_return", console=True),
    Route("fulfilment", "GET", "/v1/merchant/settlements", "list_settlements", console=True),
    Route(
        "aftersale", "POST", "/v1/merchant/return-requests/{request_id}/arrival", "confirm_return_arrival", console=True
    ),
    Route("aftersale", "POST", "/v1/orders/{order_id}/return-requests/{request_id}/shipment", "ship_back"),
    Route("aftersale", "POST", "/v1/merchant/return-requests/{request_id}/reshipment", "reship_exchange", console=True),
    Route("aftersale", "POST", "/v1/orders/{order_id}/disputes", "open_dispute"),
    Route("aftersale", "GET", "/v1/orders/{order_id}/disputes", "list_order_disputes"),
    Route("aftersale", "GET", "/v1/support/disputes", "list_disputes", console=True),
    Route("aftersale", "GET", "/v1/support/disputes/{dispute_id}", "get_dispute", console=True),
    Route("aftersale", "POST", "/v1/support/disputes/{dispute_id}/decision", "decide_dispute", console=True),
    Route("payouts", "PUT", "/v1/merchant/payout-account", "put_payout_account", console=True),
    Route("payouts", "GET", "/v1/merchant/payout-account", "get_payout_account", console=True),
    Route("payouts", "GET", "/v1/merchant/payouts", "list_payouts", console=True),
    Route("fulfilment", "POST", "/v1/orders/{order_id}/receipt", "confirm_receipt"),
    Route("fulfilment", "POST", "/v1/orders/{order_id}/return-requests", "request_return"),
    Route("fulfilment", "GET", "/v1/orders/{order_id}/return-requests", "list_order_return_requests"),
    Route("fulfilment", "POST", "/v1/orders/{order_id}/review", "review_order"),
    Route("fulfilment", "GET", "/v1/products/{product_id}/reviews", "list_reviews"),
    Route("payments", "POST", "/v1/orders/{order_id}/payments", "pay_now"),
    Route("payments", "POST", "/v1/channels/alipay/notify", "alipay_notify"),
    Route("payments", "POST", "/v1/channels/wechatpay/notify", "wechatpay_notify"),
    Route("payments", "POST", "/v1/channels/card/notify", "card_notify"),
    Route("notifications", "GET", "/v1/me/notifications", "list_notifications", console=True),
    Route("notifications", "POST", "/v1/me/notifications/read", "mark_notifications_read", console=True),
    Route("review", "GET", "/v1/review/redemptions", "list_redemptions_for_review", console=True),
    Route("review", "POST", "/v1/review/redemptions/{redemption_id}/decision", "decide_redemption", console=True),
    Route("risk", "GET", "/v1/risk/reviews", "list_risk_reviews", console=True),
    Route("risk", "GET", "/v1/risk/reviews/{review_id}", "get_risk_review", console=True),
    Route("risk", "POST", "/v1/risk/reviews/{review_id}/decision", "decide_risk_review", console=True),
    Route("risk", "GET", "/v1/risk/rules", "get_risk_rules", console=True),
    Route("risk", "GET", "/v1/risk/blocklist", "list_risk_list_entries", console=True),
    Route("risk", "POST", "/v1/risk/blocklist", "add_risk_list_entry", console=True),
    Route("risk", "DELETE", "/v1/risk/blocklist/{entry_id}", "remove_risk_list_entry", console=True),
    Route("risk", "GET", "/v1/risk/stats", "get_risk_stats", console=True),
    Route("webhooks", "GET", "/v1/merchant/webhook-endpoints", "list_webhook_endpoints", console=True),
    Route("webhooks", "POST", "/v1/merchant/webhook-endpoints", "create_webhook_endpoint", console=True),
    Route("webhooks", "GET", "/v1/merchant/webhook-endpoints/{endpoint_id}", "get_webhook_endpoint", console=True),
    Route("webhooks", "PUT", "/v1/merchant/webhook-endpoints/{endpoint_id}", "update_webhook_endpoint", console=True),
    Route(
        "webhooks", "DELETE", "/v1/merchant/webhook-endpoints/{endpoint_id}", "delete_webhook_endpoint", console=True
    ),
    Route(
        "webhooks", "POST", "/v1/merchant/webhook-endpoints/{endpoint_id}/secret", "roll_webhook_secret", console=True
    ),
    Route(
        "webhooks", "POST", "/v1/merchant/webhook-endpoints/{endpoint_id}/test", "test_webhook_endpoint", console=True
    ),
    Route(
        "webhooks", "POST", "/v1/merchant/webhook-endpoints/{endpoint_id}/replay", "replay_webhook_events", console=True
    ),
    Route("webhooks", "GET", "/v1/merchant/webhook-events", "list_webhook_events", console=True),
    Route("webhooks", "GET", "/v1/merchant/webhook-events/{event_id}", "get_webhook_event", console=True),
    Route(
        "webhooks",
        "POST",
        "/v1/merchant/webhook-events/{event_id}/redelivery",
        "redeliver_webhook_event",
        console=True,
    ),
    Route("dev", "POST", "/v1/dev/tokens", "issue_token", local_only=True),
    Route("dev", "GET", "/v1/dev/clock", "read_clock", local_only=True),
    Route("dev", "POST", "/v1/dev/clock", "advance_clock", local_only=True),
    Route("dev", "POST", "/v1/dev/jobs/{job}", "run_job", local_only=True),
    Route("dev", "POST", "/v1/dev/queue/drain", "drain_queues", local_only=True),
    Route("dev", "GET", "/v1/dev/sandbox", "sandbox_identity", local_only=True),
    Route(
        "payments.sandbox_router", "POST", "/v1/dev/payments/notify", "simulate_channel_notification", local_only=True
    ),
    Route("console", "GET", "/console", "console_page"),
    Route("console", "GET", "/console/config.json", "console_config"),
    Route("console", "GET", "/console/{asset}", "console_asset"),
]


def _loader(app: Chalice, route: Route) -> Callable[..., Response]:
    view: list[Callable[..., Response]] = []

    def first_use(**params: str) -> Response:
        if not view:
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


def table_of(routers: list[Any], where: dict[int, str]) -> list[Route]:
    """The table the routers describe (`where`: id(router) -> "<module>[.<router>]")."""
    return [
        Route(where[id(r)], s.method, s.path, s.name, bool(CONSOLE_ROLES.intersection(s.roles)), r.local_only)
        for r in routers
        for s in r.routes
    ]
