"""Authorization matrix: every route × every kind of caller, with real resources.

The routes come from `chalicelib.api.all_routers()`, so a new route is in the matrix the
day it is declared. A route that takes a body or a path parameter needs an entry in
`CASES` (a minimal valid body, the resource to put in the path, and who owns it); the
test fails until it has one, so nobody can add an unchecked route.

Expected status per cell: 401 for no / expired / forged token; 403 for a caller without
the route's role; 404 for a caller with the role on someone else's resource; and for the
owner "authorization passed" (anything but 401/403/404 — a 409 for a state is fine).
One world of users, products and orders is built per run and every cell runs against it,
collecting failures into one message (moto is per test, so the cells share one test).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from chalicelib.api import all_routers
from chalicelib.clock import clock, parse_iso
from chalicelib.config import settings
from chalicelib.errors import PROBLEM_JSON
from chalicelib.models.orders import Order
from chalicelib.services.installments.arithmetic import CHINA
from chalicelib.web import RouteSpec
from tests.conftest import ADULT_ID, Api, new_key
from tests.support.shopping import ADDRESS, PASSWORD, DeviceKey
from tests.support.wallet import earn

CONSUMER_A, CONSUMER_B = "u-matrix-a", "u-matrix-b"
MERCHANT, OTHER_MERCHANT, REVIEWER, SUPPORT = "m-matrix-1", "m-matrix-2", "r-matrix-1", "s-matrix-1"
RISK_OPERATOR = "k-matrix-1"
CARD, CARD_2 = "6222020200112233446", "6217001234567890122"
ADULT_ID_B = "110105199003070017"  # GB 11643 check digit computed, born 1990
ADULT_ID_STAFF = "110105198503070035"  # GB 11643 check digit computed, born 1985
ADULT_ID_RISK = "110105198003070055"  # GB 11643 check digit computed, born 1980

BAD_TOKENS = {"no token": "token_missing", "expired": "token_expired", "forged": "token_invalid"}
# Caller name → (subject, roles).
CALLERS: dict[str, tuple[str, str]] = {
    "consumer A": (CONSUMER_A, "consumer"),
    "consumer B": (CONSUMER_B, "consumer"),
    "merchant": (MERCHANT, "merchant"),
    "other merchant": (OTHER_MERCHANT, "merchant"),
    "reviewer": (REVIEWER, "reviewer"),
    "support": (SUPPORT, "support"),
    "risk": (RISK_OPERATOR, "risk"),
}
ANYONE = "anyone with the role"


@dataclass
class World:
    """Resources owned by consumer A and the merchant, one per route that acts on one."""

    ids: dict[str, str] = field(default_factory=dict)
    challenge: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, name: str) -> str:
        return self.ids[name]


@dataclass(frozen=True)
class Case:
    """How to call one route: its path parameters, a valid body, and who owns the resource."""

    params: Callable[[World], dict[str, str]] = lambda w: {}
    body: Callable[[World], Any] | None = None
    # Callers for whom authorization must pass; others with the role get a 404.
    owners: tuple[str, ...] | str = ANYONE


def _product_body(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "description": "硅胶",
        "skus": [
            {"attributes": {"颜色": "黑色"}, "price_fen": 2990, "stock": 100},
            {"attributes": {"颜色": "粉色"}, "price_fen": 3290, "stock": 100},
        ],
    }


def _checkout_body(w: World) -> dict[str, Any]:
    return {"items": [{"sku_id": w["sku1"], "quantity": 1}], "payment_method": "bnpl", "address": ADDRESS}


# Keyed by operationId (the handler's name). Routes without a body or path parameter need
# no entry: every caller with the role owns "their own" view of them.
CASES: dict[str, Case] = {
    # me
    "submit_identity": Case(body=lambda w: {"real_name": "张三", "id_number": ADULT_ID}),
    "add_bank_card": Case(body=lambda w: {"card_number": CARD}),
    "remove_bank_card": Case(params=lambda w: {"card_id": w["card_a_spare"]}, owners=("consumer A",)),
    "set_default_bank_card": Case(params=lambda w: {"card_id": w["card_a_first"]}, owners=("consumer A",)),
    "add_address": Case(body=lambda w: ADDRESS),
    "update_address": Case(
        params=lambda w: {"address_id": w["address_a"]},
        body=lambda w: {**ADDRESS, "is_default": True},
        owners=("consumer A",),
    ),
    "delete_address": Case(params=lambda w: {"address_id": w["address_a_spare"]}, owners=("consumer A",)),
    "set_payment_password": Case(body=lambda w: {"password": PASSWORD, "old_password": PASSWORD}),
    "register_device": Case(
        body=lambda w: {"device_id": f"dev-{uuid.uuid4().hex[:8]}", "public_key_pem": w["pem"], "password": PASSWORD}
    ),
    # bnpl
    "activate_bnpl": Case(body=lambda w: {"agreement_version": settings().rules.agreement_version}),
    # catalog and cart
    "get_product": Case(params=lambda w: {"product_id": w["product"]}),
    "create_product": Case(body=lambda w: _product_body("新品")),
    "update_product": Case(
        params=lambda w: {"product_id": w["product"]},
        body=lambda w: {
            "name": "手机壳",
            "skus": [
                {"sku_id": w["sku1"], "attributes": {"颜色": "黑色"}, "price_fen": 2990, "stock": 100},
                {"sku_id": w["sku2"], "attributes": {"颜色": "粉色"}, "price_fen": 3290, "stock": 100},
            ],
        },
        owners=("merchant",),
    ),
    "put_cart_item": Case(params=lambda w: {"sku_id": w["sku1"]}, body=lambda w: {"quantity": 1, "selected": True}),
    "delete_cart_item": Case(params=lambda w: {"sku_id": w["sku2"]}, owners=("consumer A",)),
    # orders
    "create_checkout": Case(body=_checkout_body),
    "confirm_order": Case(
        params=lambda w: {"order_id": w["awaiting"]},
        body=lambda w: {"challenge_id": w.challenge["awaiting"], "password": PASSWORD},
        owners=("consumer A",),
    ),
    "get_order": Case(params=lambda w: {"order_id": w["placed"]}, owners=("consumer A",)),
    "get_order_installments": Case(params=lambda w: {"order_id": w["placed"]}, owners=("consumer A",)),
    "get_bill": Case(params=lambda w: {"month": "2026-12"}),
    # Alipay: the bill's trade is opened, nothing is paid (later cells find the orders as built).
    "pay_bill": Case(
        params=lambda w: {"month": w["bill_month"]}, body=lambda w: {"channel": "alipay"}, owners=("consumer A",)
    ),
    "data_export_section": Case(params=lambda w: {"section": "orders"}),
    "get_merchant_order_installments": Case(params=lambda w: {"order_id": w["placed"]}, owners=("merchant",)),
    "get_support_order_installments": Case(params=lambda w: {"order_id": w["placed"]}),
    "cancel_order": Case(params=lambda w: {"order_id": w["to_cancel"]}, owners=("consumer A",)),
    # fulfilment
    "list_order_return_requests": Case(params=lambda w: {"order_id": w["placed"]}, owners=("consumer A",)),
    "get_merchant_order": Case(params=lambda w: {"order_id": w["placed"]}, owners=("merchant",)),
    "ship_order": Case(
        params=lambda w: {"order_id": w["to_ship"]},
        body=lambda w: {"carrier": "SF", "tracking_number": "SF1234567890"},
        owners=("merchant",),
    ),
    "decide_return": Case(
        params=lambda w: {"request_id": w["return_request"]},
        body=lambda w: {"decision": "approve", "note": "ok"},
        owners=("merchant",),
    ),
    "confirm_receipt": Case(params=lambda w: {"order_id": w["shipped"]}, owners=("consumer A",)),
    "request_return": Case(
        params=lambda w: {"order_id": w["received_for_return"]},
        body=lambda w: {"reason": "尺码不合适"},
        owners=("consumer A",),
    ),
    "review_order": Case(
        params=lambda w: {"order_id": w["received_for_review"]},
        body=lambda w: {"rating": 5, "text": "很好"},
        owners=("consumer A",),
    ),
    "list_reviews": Case(params=lambda w: {"product_id": w["product"]}),
    # after-sale: the goods' way back, disputes (support decides any dispute but their own)
    "ship_back": Case(
        params=lambda w: {"order_id": w["return_goods"], "request_id": w["return_goods_request"]},
        body=lambda w: {"carrier": "SF", "tracking_number": "SF9876543210"},
        owners=("consumer A",),
    ),
    "confirm_return_arrival": Case(params=lambda w: {"request_id": w["return_goods_request"]}, owners=("merchant",)),
    "reship_exchange": Case(
        params=lambda w: {"request_id": w["return_goods_request"]},
        body=lambda w: {"carrier": "SF", "tracking_number": "SF1234567890"},
        owners=("merchant",),
    ),
    "open_dispute": Case(
        params=lambda w: {"order_id": w["disputed"]}, body=lambda w: {"reason": "质量问题"}, owners=("consumer A",)
    ),
    "list_order_disputes": Case(params=lambda w: {"order_id": w["disputed"]}, owners=("consumer A",)),
    "get_dispute": Case(params=lambda w: {"dispute_id": w["dispute"]}),
    "decide_dispute": Case(
        params=lambda w: {"dispute_id": w["dispute"]}, body=lambda w: {"decision": "reject", "note": "ok"}
    ),
    # order messages; support reads any order's thread
    "list_order_messages": Case(params=lambda w: {"order_id": w["placed"]}, owners=("consumer A",)),
    "send_order_message": Case(
        params=lambda w: {"order_id": w["placed"]}, body=lambda w: {"text": "几号发货？"}, owners=("consumer A",)
    ),
    "list_merchant_order_messages": Case(params=lambda w: {"order_id": w["placed"]}, owners=("merchant",)),
    "send_merchant_order_message": Case(
        params=lambda w: {"order_id": w["placed"]}, body=lambda w: {"text": "明天发货"}, owners=("merchant",)
    ),
    "support_order_messages": Case(params=lambda w: {"order_id": w["placed"]}),
    "get_support_order": Case(params=lambda w: {"order_id": w["placed"]}),
    # the web console's files are public; every action in them is an API call authorized here
    "console_asset": Case(params=lambda w: {"asset": "app.js"}),
    # payments and notifications
    "pay_now": Case(
        params=lambda w: {"order_id": w["to_pay"]}, body=lambda w: {"channel": "alipay"}, owners=("consumer A",)
    ),
    "mark_notifications_read": Case(body=lambda w: {"all": True}),
    # payouts and privacy (closing consumer B's account is refused: B has an open order)
    "put_payout_account": Case(
        body=lambda w: {"account_name": "某某科技有限公司", "account_number": CARD, "bank": "招商银行"}
    ),
    # wallet and review
    "request_redemption": Case(body=lambda w: {"amount_fen": 100}),
    "get_redemption": Case(params=lambda w: {"redemption_id": w["redemption"]}, owners=("consumer A",)),
    # Any reviewer decides any request: the resource belongs to the review queue.
    "decide_redemption": Case(
        params=lambda w: {"redemption_id": w["redemption_for_review"]},
        body=lambda w: {"decision": "approve", "note": "ok"},
    ),
    # Risk operators decide any held order but their own; lists belong to the platform.
    "get_risk_review": Case(params=lambda w: {"review_id": w["review"]}),
    "decide_risk_review": Case(
        params=lambda w: {"review_id": w["review"]}, body=lambda w: {"decision": "approve", "note": "ok"}
    ),
    "add_risk_list_entry": Case(
        body=lambda w: {"kind": "device", "value": f"dev-{uuid.uuid4().hex[:8]}", "reason": "test"}
    ),
    "remove_risk_list_entry": Case(params=lambda w: {"entry_id": w["list_entry"]}),
    # merchant webhooks: another merchant's endpoints and events are 404
    "create_webhook_endpoint": Case(body=lambda w: {"url": "https://hooks.example.com/x", "events": ["*"]}),
    "get_webhook_endpoint": Case(params=lambda w: {"endpoint_id": w["webhook_endpoint"]}, owners=("merchant",)),
    "update_webhook_endpoint": Case(
        params=lambda w: {"endpoint_id": w["webhook_endpoint"]}, body=lambda w: {"events": ["*"]}, owners=("merchant",)
    ),
    "delete_webhook_endpoint": Case(
        params=lambda w: {"endpoint_id": w["webhook_endpoint_spare"]}, owners=("merchant",)
    ),
    "roll_webhook_secret": Case(
        params=lambda w: {"endpoint_id": w["webhook_endpoint"]}, body=lambda w: {}, owners=("merchant",)
    ),
    "test_webhook_endpoint": Case(params=lambda w: {"endpoint_id": w["webhook_endpoint"]}, owners=("merchant",)),
    "replay_webhook_events": Case(
        params=lambda w: {"endpoint_id": w["webhook_endpoint"]},
        body=lambda w: {"since": "2026-01-01T00:00:00Z"},
        owners=("merchant",),
    ),
    "get_webhook_event": Case(params=lambda w: {"event_id": w["webhook_event"]}, owners=("merchant",)),
    "redeliver_webhook_event": Case(params=lambda w: {"event_id": w["webhook_event"]}, owners=("merchant",)),
}


def routes() -> list[RouteSpec]:
    """Every route the deployed stages serve (the local-only dev router is not deployed)."""
    return [s for r in all_routers() if not r.local_only for s in r.routes]


def _has_params(spec: RouteSpec) -> bool:
    return "{" in spec.path


# --- building the world through the API ------------------------------------------------------


def _ok(r: Any, *statuses: int) -> Any:
    assert r.status_code in (statuses or (200, 201)), (r.status_code, r.json)
    return r.json


def _activate(api: Api, user: str, id_number: str) -> None:
    _ok(api.post("/v1/me/identity", {"real_name": "张三", "id_number": id_number}, as_=user))
    _ok(api.post("/v1/me/bank-cards", {"card_number": CARD}, as_=user))
    _ok(api.put("/v1/me/payment-password", {"password": PASSWORD}, as_=user))
    _ok(api.post("/v1/bnpl/activation", {"agreement_version": settings().rules.agreement_version}, as_=user))


def _order(api: Api, w: World, *, confirm: bool = True, method: str = "bnpl") -> dict[str, Any]:
    clock.advance(720)  # a shopper's pace: at most 5 orders an hour (the default risk rules)
    r = _ok(api.post("/v1/checkout", {**_checkout_body(w), "payment_method": method}, as_=CONSUMER_A, idem=new_key()))
    order = dict(r["orders"][0])
    if confirm:
        body = {"challenge_id": order["challenge"]["challenge_id"], "password": PASSWORD}
        _ok(api.post(f"/v1/orders/{order['order_id']}/confirmation", body, as_=CONSUMER_A, idem=new_key()))
    return order


def _merchant(api: Api, method: str, path: str, body: Any = None) -> Any:
    return _ok(api.call(method, path, json_body=body, as_=MERCHANT, roles=["merchant"]))


def build_world(api: Api) -> World:
    w = World()
    _activate(api, CONSUMER_A, ADULT_ID)
    _activate(api, CONSUMER_B, ADULT_ID_B)
    w.ids["card_a_first"] = _ok(api.get("/v1/me", as_=CONSUMER_A))["default_card_id"]
    for name in ("address_a", "address_a_spare"):
        w.ids[name] = _ok(api.post("/v1/me/addresses", ADDRESS, as_=CONSUMER_A))["address_id"]
    w.ids["card_a_spare"] = _ok(api.post("/v1/me/bank-cards", {"card_number": CARD_2}, as_=CONSUMER_A))["card_id"]
    w.ids["pem"] = DeviceKey().public_pem
    product = _merchant(api, "POST", "/v1/merchant/products", _product_body("手机壳"))
    w.ids["product"] = product["product_id"]
    w.ids["sku1"], w.ids["sku2"] = (s["sku_id"] for s in product["skus"])
    _ok(api.put(f"/v1/cart/items/{w['sku2']}", {"quantity": 1, "selected": True}, as_=CONSUMER_A))

    awaiting = _order(api, w, confirm=False)
    w.ids["awaiting"], w.challenge["awaiting"] = awaiting["order_id"], awaiting["challenge"]["challenge_id"]
    for name in ("placed", "to_cancel", "to_ship"):
        w.ids[name] = _order(api, w)["order_id"]
    for name in ("shipped", "received_for_return", "received_for_review", "returning", "return_goods", "disputed"):
        order_id = _order(api, w)["order_id"]
        _merchant(
            api,
            "POST",
            f"/v1/merchant/orders/{order_id}/shipment",
            {"carrier": "SF", "tracking_number": "SF1234567890"},
        )
        if name != "shipped":
            _ok(api.post(f"/v1/orders/{order_id}/receipt", as_=CONSUMER_A))
        w.ids[name] = order_id
    w.ids["to_pay"] = _order(api, w, method="alipay")["order_id"]  # awaiting payment
    due = Order.get(w["received_for_review"], consistent_read=True).due_at
    w.ids["bill_month"] = parse_iso(str(due)).astimezone(CHINA).strftime("%Y-%m")  # nothing due for B in it
    earn(CONSUMER_A, 50_000)  # paid on time the way collection pays: 500 points
    for name in ("redemption", "redemption_for_review"):
        r = _ok(api.post("/v1/wallet/redemptions", {"amount_fen": 100}, as_=CONSUMER_A, idem=new_key()))
        w.ids[name] = r["redemption_id"]
    r = _ok(api.post(f"/v1/orders/{w['returning']}/return-requests", {"reason": "坏了"}, as_=CONSUMER_A))
    w.ids["return_request"] = r["request_id"]
    body = {"reason": "坏了", "kind": "return_goods"}
    r = _ok(api.post(f"/v1/orders/{w['return_goods']}/return-requests", body, as_=CONSUMER_A))
    w.ids["return_goods_request"] = r["request_id"]
    _merchant(api, "POST", f"/v1/merchant/return-requests/{r['request_id']}/decision", {"decision": "approve"})
    w.ids["dispute"] = _dispute(api, CONSUMER_A, w["disputed"])
    # An open order keeps consumer B's account from closing (a closed account would
    # answer every later cell with 401 account_closed).
    _ok(api.post("/v1/checkout", _checkout_body(w), as_=CONSUMER_B, idem=new_key()))
    w.ids["review"] = _held_order(api, CONSUMER_B)["review_id"]
    entry = {"kind": "phone", "value": "13900000000", "reason": "test"}
    w.ids["list_entry"] = _ok(api.post("/v1/risk/blocklist", entry, as_=RISK_OPERATOR, roles=["risk"]))["entry_id"]
    for name in ("webhook_endpoint", "webhook_endpoint_spare"):
        hook = {"url": "https://hooks.example.com/x", "events": ["*"]}
        w.ids[name] = _merchant(api, "POST", "/v1/merchant/webhook-endpoints", hook)["endpoint_id"]
    w.ids["webhook_event"] = _merchant(api, "GET", "/v1/merchant/webhook-events")["items"][0]["event_id"]
    return w


def _held_order(api: Api, buyer: str) -> dict[str, str]:
    """`buyer`'s first 先用后付 order, above ¥300: held for a risk review."""
    body = _product_body("大件")
    body["skus"][0]["price_fen"] = 35000
    sku = _merchant(api, "POST", "/v1/merchant/products", body)["skus"][0]["sku_id"]
    checkout = {"items": [{"sku_id": sku, "quantity": 1}], "payment_method": "bnpl", "address": ADDRESS}
    order = _ok(api.post("/v1/checkout", checkout, as_=buyer, idem=new_key()))["orders"][0]
    confirmation = {"challenge_id": order["challenge"]["challenge_id"], "password": PASSWORD}
    r = api.post(f"/v1/orders/{order['order_id']}/confirmation", confirmation, as_=buyer, idem=new_key())
    assert r.status_code == 202, r.json
    return {"review_id": "rd_" + order["order_id"].removeprefix("o_")}


def _dispute(api: Api, user: str, order_id: str) -> str:
    """A return of `order_id` the merchant rejects, escalated by `user`: the dispute's id."""
    r = _ok(api.post(f"/v1/orders/{order_id}/return-requests", {"reason": "坏了"}, as_=user))
    _merchant(api, "POST", f"/v1/merchant/return-requests/{r['request_id']}/decision", {"decision": "reject"})
    return str(_ok(api.post(f"/v1/orders/{order_id}/disputes", {"reason": "质量问题"}, as_=user))["dispute_id"])


# --- calling a cell ----------------------------------------------------------------------------


class Tokens:
    def __init__(self, api: Api) -> None:
        self.api = api
        self.forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def header(self, who: str) -> dict[str, str]:
        cfg = settings()
        if who == "no token":
            return {}
        if who == "expired":
            token = self.api.token(
                CONSUMER_A, ["consumer", "merchant", "reviewer"], now=clock.now() - timedelta(days=400)
            )
        elif who == "forged":
            now = int(clock.now().timestamp())
            claims = {
                "sub": CONSUMER_A,
                cfg.jwt_roles_claim: ["consumer", "merchant", "reviewer"],
                "iss": cfg.jwt_issuer,
                "aud": cfg.jwt_audience,
                "iat": now,
                "exp": now + 3600,
            }
            token = jwt.encode(claims, self.forger, algorithm="RS256", headers={"kid": "local"})
        else:
            sub, role = CALLERS[who]
            token = self.api.token(sub, [role])
        return {"Authorization": f"Bearer {token}"}


def call(api: Api, tokens: Tokens, spec: RouteSpec, case: Case, world: World, who: str) -> Any:
    path = spec.path.format(**case.params(world))
    headers = {"Content-Type": "application/json", **tokens.header(who)}
    if spec.idempotent:
        headers["Idempotency-Key"] = new_key()
    body = json.dumps(case.body(world)) if case.body else b""
    r = api.client.http.request(method=spec.method, path=path, headers=headers, body=body)
    # Channel notification routes answer in the channel's own format (text, empty).
    is_json = "json" in (r.headers.get("Content-Type") or "") and r.body
    r.json = json.loads(r.body) if is_json else None
    return r


def expectation(spec: RouteSpec, case: Case, who: str) -> str:
    """'401' / '403' / '404', or 'pass' when authorization must let the caller through."""
    if who in BAD_TOKENS:
        return "401"
    if CALLERS[who][1] not in spec.roles:
        return "403"
    if case.owners == ANYONE or who in case.owners:
        return "pass"
    return "404"


def check(spec: RouteSpec, who: str, want: str, r: Any) -> str | None:
    got = r.status_code
    code = (r.json or {}).get("code") if isinstance(r.json, dict) else None
    cell = f"{spec.method} {spec.path} as {who}: expected {want}, got {got} {code or ''}".rstrip()
    if want == "pass":
        return cell if got in (401, 403, 404) or got >= 500 else None
    if str(got) != want or r.headers.get("Content-Type") != PROBLEM_JSON:
        return cell
    if want == "401" and code != BAD_TOKENS[who]:
        return cell + f" (code should be {BAD_TOKENS[who]})"
    if want == "403" and code != "forbidden_role":
        return cell + " (code should be forbidden_role)"
    return None


def order_of_callers(spec: RouteSpec, case: Case) -> list[str]:
    """Callers expected to be refused first, the owners last: a refused call changes
    nothing, so the owner still finds the resource as the world built it."""
    everyone = [*BAD_TOKENS, *CALLERS]
    return sorted(everyone, key=lambda who: expectation(spec, case, who) == "pass")


# --- the tests ----------------------------------------------------------------------------------


def test_every_route_that_needs_a_resource_or_a_body_has_a_case() -> None:
    missing = [
        f"{s.method} {s.path} ({s.name})"
        for s in routes()
        if s.roles and (_has_params(s) or s.body is not None) and s.name not in CASES
    ]
    assert not missing, "add these routes to CASES in tests/api/test_authorization_matrix.py: " + ", ".join(missing)
    stale = sorted(set(CASES) - {s.name for s in routes()})
    assert not stale, f"CASES names routes that no longer exist: {stale}"
    unowned = [s.name for s in routes() if s.roles and _has_params(s) and CASES[s.name].owners == ANYONE]
    # Resources readable by everyone with the role (the catalog) are the only exceptions.
    assert set(unowned) <= {
        "get_product",
        "put_cart_item",
        "decide_redemption",
        "support_order_messages",
        "get_support_order",
        "get_dispute",
        "decide_dispute",
        "get_bill",  # a month, not a resource: each caller reads their own bill
        "data_export_section",  # a section of the caller's own export, not a resource
        "get_support_order_installments",
        "get_risk_review",
        "decide_risk_review",
        "remove_risk_list_entry",
    }, unowned


def test_authorization_matrix(api: Api) -> None:
    world = build_world(api)
    tokens = Tokens(api)
    failures: list[str] = []
    cells = 0
    for spec in routes():
        if not spec.roles:
            continue
        case = CASES.get(spec.name, Case())
        for who in order_of_callers(spec, case):
            want = expectation(spec, case, who)
            failure = check(spec, who, want, call(api, tokens, spec, case, world, who))
            cells += 1
            if failure:
                failures.append(failure)
    assert cells >= 8 * 20, cells
    assert not failures, f"{len(failures)} of {cells} cells wrong:\n" + "\n".join(failures)


def test_public_routes_ignore_the_authorization_header(api: Api) -> None:
    """A PUBLIC route answers the same whoever calls, with or without a token."""
    world = build_world(api)
    tokens = Tokens(api)
    failures: list[str] = []
    public = [s for s in routes() if not s.roles]
    assert public, "expected the health and OpenAPI routes at least"
    for spec in public:
        case = CASES.get(spec.name, Case())
        seen = {who: call(api, tokens, spec, case, world, who).status_code for who in [*BAD_TOKENS, *CALLERS]}
        if len(set(seen.values())) != 1:
            failures.append(f"{spec.method} {spec.path}: status depends on the caller: {seen}")
        elif not spec.raw_body and next(iter(seen.values())) >= 400:
            failures.append(f"{spec.method} {spec.path}: a public read failed: {seen}")
    assert not failures, "\n".join(failures)


# Decision routes: how to make a case owned by the caller who will try to decide it. Nobody
# decides their own case (a reviewer their redemption, support their order's dispute).
def _own_redemption(api: Api, owner: str) -> dict[str, str]:
    earn(owner, 50_000)
    r = _ok(api.post("/v1/wallet/redemptions", {"amount_fen": 100}, as_=owner, idem=new_key()))
    return {"redemption_id": r["redemption_id"]}


def _own_dispute(api: Api, owner: str) -> dict[str, str]:
    """The support agent's own order, its return rejected and escalated."""
    _activate(api, owner, ADULT_ID_STAFF)
    product = _merchant(api, "POST", "/v1/merchant/products", _product_body("手机壳"))
    checkout = {"items": [{"sku_id": product["skus"][0]["sku_id"], "quantity": 1}], "payment_method": "bnpl"}
    order = _ok(api.post("/v1/checkout", {**checkout, "address": ADDRESS}, as_=owner, idem=new_key()))["orders"][0]
    body = {"challenge_id": order["challenge"]["challenge_id"], "password": PASSWORD}
    _ok(api.post(f"/v1/orders/{order['order_id']}/confirmation", body, as_=owner, idem=new_key()))
    shipment = {"carrier": "SF", "tracking_number": "SF1234567890"}
    _merchant(api, "POST", f"/v1/merchant/orders/{order['order_id']}/shipment", shipment)
    _ok(api.post(f"/v1/orders/{order['order_id']}/receipt", as_=owner))
    return {"dispute_id": _dispute(api, owner, order["order_id"])}


def _own_review(api: Api, owner: str) -> dict[str, str]:
    """The risk operator's own first large order, held for review."""
    _activate(api, owner, ADULT_ID_RISK)
    return _held_order(api, owner)


OWN_CASES: dict[str, Callable[[Api, str], dict[str, str]]] = {
    "decide_redemption": _own_redemption,
    "decide_dispute": _own_dispute,
    "decide_risk_review": _own_review,
}
# Whose own case each route is tried with (default "u-matrix-staff").
OWNERS = {"decide_risk_review": "u-matrix-risk"}
# A decision each route accepts (the refusal must be for the case, not for the body).
DECISIONS = {"decide_dispute": "refund"}


def test_nobody_decides_their_own_case(api: Api) -> None:
    """Every decision route of a staff role refuses a caller deciding their own case."""
    staff = {"reviewer", "support", "risk"}
    decisions = [s for s in routes() if s.path.endswith("/decision") and staff & set(s.roles)]
    assert decisions and {s.name for s in decisions} <= set(OWN_CASES), [s.name for s in decisions]
    for spec in decisions:
        owner = OWNERS.get(spec.name, "u-matrix-staff")
        path = spec.path.format(**OWN_CASES[spec.name](api, owner))
        roles = ["consumer", *sorted(staff & set(spec.roles))]
        body = {"decision": DECISIONS.get(spec.name, "approve"), "note": "mine"}
        r = api.post(path, body, as_=owner, roles=roles, idem=new_key())
        assert (r.status_code, r.json["code"]) == (403, "own_case"), (spec.name, r.json)


@pytest.mark.parametrize("who", list(CALLERS))
def test_expectations_cover_each_caller_kind(who: str) -> None:
    """The matrix asks for every outcome somewhere: a 403 and a pass for every caller, and a
    404 for every caller that owns nothing in a route of its role."""
    outcomes = {expectation(s, CASES.get(s.name, Case()), who) for s in routes() if s.roles}
    assert {"403", "pass"} <= outcomes
    if who in ("consumer B", "other merchant"):
        assert "404" in outcomes
