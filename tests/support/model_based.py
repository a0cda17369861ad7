"""The model-based money test: a hypothesis state machine that drives the real app through
chalice.test.Client (HTTP, schedules, queue and channel notifications) and checks the
money invariants after every step, optionally with ~1 % of DynamoDB calls failing.

The "model" tracks ids only; every invariant is computed from what the store holds
(entries, balances, orders, payments, refunds, stock), so it holds whether or not a failed
request took effect. Conservation laws say money *balances*; the amount laws say it is
*right* (issue 11): points follow the money paid on time and kept, the credit limit follows
the on-time orders kept, and every order's parts sum to its whole, to the fen.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import uuid
from collections import Counter, defaultdict
from typing import Any

import boto3
from botocore.exceptions import ClientError, ReadTimeoutError
from hypothesis import note
from hypothesis import strategies as st
from hypothesis.control import current_build_context
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from chalicelib import ledger, schedules
from chalicelib.clock import clock
from chalicelib.config import settings
from chalicelib.models import orders as o
from chalicelib.services.privacy import ERASED_ADDRESS
from tests.conftest import T0, Api, empty_everything, new_key

PASSWORD = "135790"
GOOD_CARD = "6222020200112233446"  # sandbox: succeeds
DECLINING_LAST4 = "0002"  # sandbox: a card ending 0002 declines
PENDING_LAST4 = "0003"  # sandbox: times out (pending), a later query or notification says succeeded
ADDRESS = {"name": "张三", "phone": "13800138000", "line1": "建国路 1 号", "city": "北京"}
JOBS = (
    "expire_checkouts",
    "auto_confirm_receipts",
    "complete_orders",
    "close_payment_windows",
    "send_due_reminders",
    "process_refunds",
    "reconcile_ledger",
    "run_payouts",
    "check_obligations",
    "advance_aftersale",
)
# Legal status changes (SPEC.md "Order lifecycle").
LEGAL = {
    o.AWAITING_CONFIRMATION: {o.PLACED, o.AWAITING_PAYMENT, o.CANCELLED},
    o.AWAITING_PAYMENT: {o.PAID, o.CANCELLED},
    o.PLACED: {o.SHIPPED, o.CANCELLED},
    # cancelled from paid: a channel order before shipment, refunded through its channel
    o.PAID: {o.SHIPPED, o.COMPLETED, o.RETURN_REQUESTED, o.RETURNED, o.CANCELLED},
    o.SHIPPED: {o.RECEIVED, o.RETURN_REQUESTED},
    o.RECEIVED: {o.PAID, o.OVERDUE, o.COMPLETED, o.RETURN_REQUESTED},
    o.OVERDUE: {o.PAID, o.RETURN_REQUESTED},
    # return_requested → itself: the after-sale request moves on (approved, shipped back, escalated);
    # → completed: a dispute about a completed order rejected.
    o.RETURN_REQUESTED: {o.SHIPPED, o.RECEIVED, o.OVERDUE, o.PAID, o.RETURNED, o.RETURN_REQUESTED, o.COMPLETED},
    o.COMPLETED: {o.RETURN_REQUESTED},  # a rejected return escalated within 15 days (平台介入)
    o.CANCELLED: set(),
    o.RETURNED: set(),
}
OPEN_BNPL = (o.PLACED, o.SHIPPED, o.RECEIVED, o.OVERDUE, o.RETURN_REQUESTED)
# --- risk decisions (风控): a held order sits between confirmation and placement -----------
LEGAL[o.AWAITING_CONFIRMATION] = LEGAL[o.AWAITING_CONFIRMATION] | {o.RISK_REVIEW}
LEGAL[o.RISK_REVIEW] = {o.PLACED, o.CANCELLED}
OPEN_BNPL = (*OPEN_BNPL, o.RISK_REVIEW)  # its credit is held while an operator decides
JOBS = (*JOBS, "expire_risk_reviews")
# --- installments (分期): a part paid, the order owes the next one (received again) ---------
LEGAL[o.RECEIVED] = LEGAL[o.RECEIVED] | {o.RECEIVED}
LEGAL[o.OVERDUE] = LEGAL[o.OVERDUE] | {o.RECEIVED}
# --- goods a dispute refunded on their way back arrive: back to stock, the status stays -----
for _status in (o.SHIPPED, o.RECEIVED, o.OVERDUE, o.PAID, o.COMPLETED, o.RETURN_REQUESTED, o.RETURNED):
    LEGAL[_status] = LEGAL[_status] | {_status}
# (SKU index, quantity) lines of one checkout, each SKU once.
BASKETS = st.lists(st.tuples(st.integers(0, 2), st.integers(1, 2)), min_size=1, max_size=3, unique_by=lambda t: t[0])


def _luhn_ok(digits: str) -> bool:
    total = sum(
        (int(c) * 2 - 9 if int(c) * 2 > 9 else int(c) * 2) if i % 2 else int(c) for i, c in enumerate(reversed(digits))
    )
    return total % 10 == 0


def card_ending(last4: str) -> str:
    """A Luhn-valid card number with the given last four digits (a middle digit adjusted)."""
    for d in "0123456789":
        digits = f"62220202001122{d}{last4}"
        if _luhn_ok(digits):
            return digits
    raise AssertionError("unreachable")


_ID_SEQ = iter(range(10**6))


def unique_id_number() -> str:
    n = next(_ID_SEQ)
    first17 = f"1101051990{1 + n // 28 % 12:02d}{1 + n % 28:02d}{n // 336 % 1000:03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return first17 + "10X98765432"[sum(int(d) * w for d, w in zip(first17, weights, strict=True)) % 11]


# A step's faults: (the n-th store call of the step, what DynamoDB does to it). Mostly none;
# Hypothesis shrinks a failing story toward fewer faults, earlier calls and the first kind.
FAULT_KINDS = (
    "ThrottlingException",  # any call, before it happens (botocore's retries ran out)
    "ProvisionedThroughputExceededException",
    "InternalServerError",
    "TransactionConflict",  # a transaction cancelled by another one on an item (others: throttled)
    "ThrottlingError",  # a transaction cancelled: an item's partition throttled
    "lost_answer",  # the call took effect and its answer was lost (a read timeout after the commit)
)
WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"})


def fault_schedule(span: int) -> st.SearchStrategy[list[tuple[int, str]]]:
    """`span` ~ 1 / the fault rate per call: a drawn call index past the step's calls does nothing."""
    return st.lists(st.tuples(st.integers(0, span - 1), st.sampled_from(FAULT_KINDS)), max_size=1)


class Faults:
    """DynamoDB failing as the service does, at the store calls Hypothesis chose.

    Before each step the machine draws that step's schedule from Hypothesis' data
    (`MoneyMachine.check_invariants`), so a failing story shrinks and replays (its seed or
    `@reproduce_failure` blob; docs/operations.md "Soak"). Only calls of the machine's own thread count
    and fail: the order of other threads' calls is not reproducible. Every write's keys are
    recorded (`touched`) for the step's incremental checks.
    """

    def __init__(self, span: int = 100) -> None:
        self.span = span
        self.enabled = False
        self.injected: Counter[str] = Counter()
        self.schedule: dict[int, str] = {}
        self.calls = 0
        self.thread = threading.get_ident()
        self.touched: list[tuple[str, dict[str, Any]]] = []  # (table, key or item) of each write
        self.only: str | None = None
        self._original: Any = None

    def arm(self, schedule: list[tuple[int, str]], *, only: str | None = None) -> None:
        """The next calls' faults (`only`: count and fail calls of that operation alone)."""
        self.schedule = dict(schedule)
        self.calls = 0
        self.touched = []
        self.only = only
        self.enabled = True

    def _record(self, operation: str, kwargs: dict[str, Any]) -> None:
        if operation == "TransactWriteItems":
            for item in kwargs.get("TransactItems", []):
                for op in item.values():
                    self.touched.append((op["TableName"], op.get("Key") or op.get("Item") or {}))
        elif operation in ("PutItem", "UpdateItem", "DeleteItem"):
            self.touched.append((kwargs["TableName"], kwargs.get("Key") or kwargs.get("Item") or {}))

    def _due(self, operation: str) -> str | None:
        if not self.enabled or threading.get_ident() != self.thread or self.only not in (None, operation):
            return None
        self.calls += 1
        return self.schedule.get(self.calls - 1)

    def _call(self, conn: Any, operation: str, kwargs: dict[str, Any]) -> Any:
        if operation in WRITES:
            self._record(operation, kwargs)
        kind = self._due(operation)
        if kind is None:
            return self._original(conn, operation, kwargs)
        self.injected[kind] += 1
        if kind == "lost_answer":
            self._original(conn, operation, kwargs)
            raise ReadTimeoutError(endpoint_url="injected fault")
        if kind in ("TransactionConflict", "ThrottlingError"):
            if operation != "TransactWriteItems":
                kind = "ThrottlingException"
            else:
                reasons: list[dict[str, str]] = [{"Code": "None"} for _ in kwargs["TransactItems"]]
                reasons[0] = {"Code": kind, "Message": "injected fault"}
                error = {"Code": "TransactionCanceledException", "Message": f"injected fault [{kind}]"}
                raise ClientError({"Error": error, "CancellationReasons": reasons}, operation)  # type: ignore[typeddict-unknown-key]
        raise ClientError({"Error": {"Code": kind, "Message": "injected fault"}}, operation)

    def install(self) -> None:
        """Below PynamoDB (which turns a ClientError into its own errors) and above botocore's
        retries (a fault is what is left once they ran out)."""
        from botocore.client import BaseClient

        self._original = BaseClient._make_api_call
        faults = self

        def make_api_call(client: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
            if client.meta.service_model.service_name != "dynamodb":
                return faults._original(client, operation_name, api_params)
            return faults._call(client, operation_name, api_params)

        BaseClient._make_api_call = make_api_call  # type: ignore[method-assign]

    def remove(self) -> None:
        from botocore.client import BaseClient

        if self._original is not None:
            BaseClient._make_api_call = self._original  # type: ignore[method-assign]
            self._original = None


# While the invariants read (one step's end), a table is scanned once: they only read.
_SNAPSHOT: dict[str, list[dict[str, Any]]] = {}


def _scan(table: str) -> list[dict[str, Any]]:
    if "on" in _SNAPSHOT:
        if table not in _SNAPSHOT:
            _SNAPSHOT[table] = _scan_now(table)
        return _SNAPSHOT[table]
    return _scan_now(table)


def _scan_now(table: str) -> list[dict[str, Any]]:
    ddb = boto3.client("dynamodb", region_name=settings().region)
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": settings().table(table)}
    while True:  # tests may scan; the product never does
        page = ddb.scan(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _n(item: dict[str, Any], name: str, default: int = 0) -> int:
    return int(item[name]["N"]) if name in item else default


def _s(item: dict[str, Any], name: str) -> str | None:
    return item[name]["S"] if name in item else None


class MoneyMachine(RuleBasedStateMachine):
    api: Api
    faults: Faults | None = None
    # What the runs reached (order statuses, event kinds): proof the stories went somewhere.
    reached: Counter[str] = Counter()
    steps_run = 0  # steps of every story run (for the soak's steps per second)

    def __init__(self) -> None:
        super().__init__()
        empty_everything()  # a story alone in the store: its checks read only its own items
        if _WEBHOOK_RECEIVER:  # and the shared receiver holds this story's deliveries only
            _WEBHOOK_RECEIVER[0].received.clear()
        clock.freeze(T0)
        self.steps = 0  # invariant checks so far (one after each step)
        self.tag = uuid.uuid4().hex[:6]
        self.merchant = f"m-{self.tag}"
        self.users = [f"u-{self.tag}-a", f"u-{self.tag}-b"]
        self.orders: list[tuple[str, str]] = []  # (order_id, user)
        self.status: dict[str, str] = {}  # last status seen per order (a hint; the store decides)
        self.returns: list[str] = []
        self.return_orders: dict[str, tuple[str, str]] = {}  # request → (order, user)
        self.request_status: dict[str, str] = {}  # last status seen per request (a hint)
        self.disputes: list[str] = []
        self.redemptions: list[str] = []
        self.messages: list[dict[str, Any]] = []
        self.address_ids: dict[str, str] = {}  # user → a saved address (checkout by address_id)
        self.server_errors: list[str] = []
        self.closed_users: list[str] = []
        self.switched: set[str] = set()  # orders a channel switch played on (issue 22)
        self._setup()

    # --- setup (faults off) -----------------------------------------------------------------
    def _ok(self, r: Any, what: str) -> Any:
        assert r.status_code < 300, (what, r.status_code, r.body)
        return r.json

    def _setup(self) -> None:
        if self.faults:
            self.faults.enabled = False
        for i, uid in enumerate(self.users):
            self._enroll(i, uid)
        product = self._ok(
            self.api.post(
                "/v1/merchant/products",
                {
                    "name": "手机壳",
                    "description": "model",
                    # Odd prices: shares of a coupon and of the fee never come out even.
                    "skus": [
                        {"attributes": {"c": "黑"}, "price_fen": 6667, "stock": 30},
                        # Split over stock shards (issue 29): takes and releases move between items.
                        {"attributes": {"c": "粉"}, "price_fen": 3333, "stock": 30, "stock_shards": 3},
                        {"attributes": {"c": "白"}, "price_fen": 4991, "stock": 30},
                        # The black one's price: an exchange swaps these two (never in a basket).
                        {"attributes": {"c": "红"}, "price_fen": 6667, "stock": 30},
                    ],
                },
                as_=self.merchant,
                roles=["merchant"],
            ),
            "product",
        )
        self.skus = [s["sku_id"] for s in product["skus"]]
        self._set_payout_account()
        self.prices = [s["price_fen"] for s in product["skus"]]
        self.initial_stock = {s["sku_id"]: s["stock"] for s in product["skus"]}
        if self.faults:
            self.faults.enabled = True

    def _enroll(self, i: int, uid: str) -> None:
        """Real name, a card (the second user's declines), password, 先用后付 and an address."""
        id_number = unique_id_number()
        self._ok(self.api.post("/v1/me/identity", {"real_name": "张三", "id_number": id_number}, as_=uid), "id")
        card = GOOD_CARD if i == 0 else card_ending(DECLINING_LAST4)
        self._ok(self.api.post("/v1/me/bank-cards", {"card_number": card}, as_=uid), "card")
        self._ok(self.api.put("/v1/me/payment-password", {"password": PASSWORD}, as_=uid), "password")
        self._ok(
            self.api.post("/v1/bnpl/activation", {"agreement_version": settings().rules.agreement_version}, as_=uid),
            "activation",
        )
        saved = self._ok(self.api.post("/v1/me/addresses", ADDRESS, as_=uid), "address")
        self.address_ids[uid] = saved["address_id"]

    def _call(self, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        r = self.api.call(method, path, json_body=body, **kw)
        self._check_response(method, path, r)
        if r.status_code == 503 and kw.get("idem"):
            # A client retries a 503 with the same key: the first try may have taken effect
            # (its answer lost), and the key makes the retry safe.
            r = self.api.call(method, path, json_body=body, **kw)
            self._check_response(method, path, r)
            self.reached[f"retry:{method}:{r.status_code}:{(r.json or {}).get('code', '')}"] += 1
        if r.status_code < 300 and isinstance(r.json, dict) and "order_id" in r.json and "status" in r.json:
            self.status[r.json["order_id"]] = r.json["status"]
        if r.status_code < 300 and isinstance(r.json, dict) and "request_id" in r.json and "status" in r.json:
            self.request_status[r.json["request_id"]] = r.json["status"]
        return r

    def _request(self, i: int, status: str) -> str:
        """A return request last seen in `status` if any (else any): the after-sale steps
        mostly act where they can, and sometimes where they cannot (a 409)."""
        hinted = [r for r in self.returns if self.request_status.get(r) == status]
        pool = hinted if hinted and i % 5 else self.returns
        return pool[i % len(pool)]

    def _check_response(self, method: str, path: str, r: Any) -> None:
        if r.status_code >= 500 and not (r.status_code == 503 and self.faults and self.faults.span):
            self.server_errors.append(f"{method} {path} → {r.status_code} {r.body[:300]!r}")
        if r.status_code >= 400:
            assert r.headers["Content-Type"] == "application/problem+json", (path, r.status_code, r.body)
        if r.status_code == 503:
            assert r.json["code"] == "temporarily_unavailable"

    # --- rules ----------------------------------------------------------------------------------
    @rule(
        user=st.integers(0, 1),
        basket=BASKETS,
        method=st.sampled_from(["bnpl", "bnpl", "bnpl", "card", "wallet", "alipay"]),
        use_coupon=st.booleans(),
    )
    def checkout(self, user: int, basket: list[tuple[int, int]], method: str, use_coupon: bool) -> None:
        self._checkout(user, basket, method, use_coupon)

    def _checkout(self, user: int, basket: list[tuple[int, int]], method: str, use_coupon: bool) -> str | None:
        uid = self.users[user]
        body: dict[str, Any] = {
            "items": [{"sku_id": self.skus[sku], "quantity": qty} for sku, qty in basket],
            "payment_method": method,
        }
        # The second user checks out from the address book; the order keeps a copy.
        if user:
            body["address_id"] = self.address_ids[uid]
        else:
            body["address"] = ADDRESS
        if use_coupon:
            subtotal = sum(self.prices[sku] * qty for sku, qty in basket)
            coupons = self._call("GET", "/v1/wallet/coupons?status=available", as_=uid)
            fitting = [c for c in (coupons.json or {}).get("items", []) if c["min_spend_fen"] <= subtotal]
            if coupons.status_code == 200 and fitting:
                body["coupon_id"] = fitting[0]["coupon_id"]
        r = self._call("POST", "/v1/checkout", body, as_=uid, idem=new_key())
        self.reached[f"checkout:{r.status_code}:{(r.json or {}).get('code', '')}"] += 1
        if r.status_code != 201:
            return None
        for order in r.json["orders"]:
            self.orders.append((order["order_id"], uid))
            self.status[order["order_id"]] = order["status"]
        return str(r.json["orders"][0]["order_id"])

    @rule(
        user=st.integers(0, 1),
        basket=BASKETS,
        use_coupon=st.booleans(),
        until=st.sampled_from([o.PLACED, o.SHIPPED, o.RECEIVED, o.RECEIVED, o.PAID]),
    )
    def buy(self, user: int, basket: list[tuple[int, int]], use_coupon: bool, until: str) -> None:
        """A 先用后付 story in one step, as far as `until` (each step may fail under faults)."""
        order_id = self._checkout(user, basket, "bnpl", use_coupon)
        if order_id is None:
            return
        self.confirm(len(self.orders) - 1, twice=False, order_id=order_id)
        if until in (o.SHIPPED, o.RECEIVED) and self.status.get(order_id) == o.PLACED:
            self.ship(0, order_id=order_id)
        if until in (o.RECEIVED, o.PAID) and self.status.get(order_id) == o.SHIPPED:
            self.receive(0, order_id=order_id)
        if until == o.PAID and self.status.get(order_id) == o.RECEIVED:
            self.pay_now(0, "card", order_id=order_id)

    def _pick(self, i: int, *statuses: str, order_id: str | None = None) -> tuple[str, str]:
        """An order last seen in one of `statuses` (any order if none is), or that one."""
        if order_id is not None:
            return next((oid, uid) for oid, uid in self.orders if oid == order_id)
        fitting = [(oid, uid) for oid, uid in self.orders if self.status.get(oid) in statuses]
        pool = fitting or self.orders
        return pool[i % len(pool)]

    def _order(self, i: int, *statuses: str, order_id: str | None = None) -> tuple[str, str, dict[str, Any] | None]:
        order_id, uid = self._pick(i, *statuses, order_id=order_id)
        r = self._call("GET", f"/v1/orders/{order_id}", as_=uid)
        return order_id, uid, (r.json if r.status_code == 200 else None)

    def _refresh(self) -> None:
        for order_id, uid in self.orders[-12:]:
            r = self.api.call("GET", f"/v1/orders/{order_id}", as_=uid)
            if r.status_code == 200:
                self.status[order_id] = r.json["status"]

    @precondition(lambda self: self.orders)
    @rule(i=st.integers(0, 50), twice=st.booleans())
    def confirm(self, i: int, twice: bool, order_id: str | None = None) -> None:
        order_id, uid, order = self._order(i, o.AWAITING_CONFIRMATION, order_id=order_id)
        if not order or not order.get("challenge"):
            return
        key = new_key()
        body = {"challenge_id": order["challenge"]["challenge_id"], "password": PASSWORD}
        first = self._call("POST", f"/v1/orders/{order_id}/confirmation", body, as_=uid, idem=key)
        self.reached[f"confirm:{first.status_code}:{(first.json or {}).get('code', '')}"] += 1
        if twice:
            again = self._call("POST", f"/v1/orders/{order_id}/confirmation", body, as_=uid, idem=key)
            if first.status_code < 300 and again.status_code < 300:
                assert first.body == again.body

    @precondition(lambda self: self.orders)
    @rule(i=st.integers(0, 50))
    def cancel(self, i: int) -> None:
        order_id, uid = self._pick(i, o.AWAITING_CONFIRMATION, o.AWAITING_PAYMENT, o.PLACED, o.PAID)
        r = self._call("POST", f"/v1/orders/{order_id}/cancel", {}, as_=uid)
        self.reached[f"cancel:{r.status_code}"] += 1

    @precondition(lambda self: self.orders)
    @rule(i=st.integers(0, 50), channel=st.sampled_from(["card", "wallet", "alipay"]))
    def pay_now(self, i: int, channel: str, order_id: str | None = None) -> None:
        order_id, uid = self._pick(i, o.AWAITING_PAYMENT, o.RECEIVED, o.OVERDUE, order_id=order_id)
        self._call("POST", f"/v1/orders/{order_id}/payments", {"channel": channel}, as_=uid, idem=new_key())

    @precondition(lambda self: self.orders)
    @rule(i=st.integers(0, 50), channel=st.sampled_from(["card", "card", "wallet"]))
    def double_tap_pay_now(self, i: int, channel: str) -> None:
        """Two pay-nows of one order at the same moment (two taps, two keys): at most one
        charge succeeds. Through the service in two threads (the test client shares one
        current request between threads)."""
        from chalicelib.models.payments import PaymentAttempt
        from chalicelib.services import payments
        from tests.support.shopping import run_racing

        order_id, uid = self._pick(i, o.AWAITING_PAYMENT, o.RECEIVED, o.OVERDUE)
        if self.faults:  # the model's own read: never faulted (the soak found it was)
            self.faults.enabled = False
        before = {a.attempt_id for a in PaymentAttempt.by_order.query(order_id)}
        if self.faults:
            self.faults.enabled = True
        # At the same moment: both taps read the order before either reads its attempts.
        taps = (lambda: payments.pay_now(uid, order_id, channel, clock.now()) for _ in range(2))
        results = run_racing(*taps, at="Query")
        for r in results:
            self.reached[f"double_tap:{getattr(r, 'code', None) or type(r).__name__}"] += 1
        if self.faults:
            self.faults.enabled = False
        new = [a for a in PaymentAttempt.by_order.query(order_id) if a.attempt_id not in before]
        if self.faults:
            self.faults.enabled = True
        succeeded = [a for a in new if a.status in ("succeeded", "refunded")]
        # An installment order too: both taps read the same next part, and an attempt's id is
        # that part's (issue 26), so the second is a 409, never a charge for the part after.
        assert len(succeeded) <= 1, [(a.attempt_id, a.channel, a.status, a.outcome, a.part_seq) for a in new]

    @precondition(lambda self: self.orders)
    @rule(i=st.integers(0, 50), outcome=st.sampled_from(["succeeded", "succeeded", "failed"]), times=st.integers(1, 2))
    def channel_notification(self, i: int, outcome: str, times: int) -> None:
        from chalicelib.channels import sandbox
        from chalicelib.models.payments import PaymentAttempt

        order_id, _ = self._pick(i, o.AWAITING_PAYMENT, o.RECEIVED, o.OVERDUE)
        if self.faults:
            self.faults.enabled = False
        attempts = [a for a in PaymentAttempt.by_order.query(order_id) if a.channel in ("alipay", "card")]
        if self.faults:
            self.faults.enabled = True
        for attempt in attempts[:1]:
            try:  # the simulated channel never notifies a closed trade as paid (nor a paid one closed)
                path, raw, headers = sandbox.notification(
                    attempt.channel, attempt.attempt_id, int(attempt.amount_fen), attempt.currency, outcome, clock.now()
                )
            except sandbox.NoSuchNotification:
                continue
            for _ in range(times):
                r = self.api.client.http.request(
                    method="POST", path=f"/v1/channels/{path}/notify", headers=headers, body=raw
                )
                assert r.status_code < 500 or (r.status_code == 503 and self.faults), r.body

    @precondition(lambda self: self.orders)
    @rule(i=st.integers(0, 50))
    def ship(self, i: int, order_id: str | None = None) -> None:
        order_id, _ = self._pick(i, o.PLACED, o.PAID, order_id=order_id)
        self._call(
            "POST",
            f"/v1/merchant/orders/{order_id}/shipment",
            {"carrier": "SF", "tracking_number": "SF123456"},
            as_=self.merchant,
            roles=["merchant"],
        )

    @precondition(lambda self: self.orders)
    @rule(i=st.integers(0, 50))
    def receive(self, i: int, order_id: str | None = None) -> None:
        order_id, uid = self._pick(i, o.SHIPPED, order_id=order_id)
        self._call("POST", f"/v1/orders/{order_id}/receipt", {}, as_=uid)

    @rule(user=st.integers(0, 1), discount=st.sampled_from([1, 99, 777, 1001, 3333]))
    def grant_coupon(self, user: int, discount: int) -> None:
        """A platform coupon of an odd amount (as a promotion would grant it)."""
        from chalicelib.db import Tx
        from chalicelib.services import rewards

        if self.faults:
            self.faults.enabled = False
        try:
            tx = Tx()
            issued = rewards.issue_coupon(
                tx,
                self.users[user],
                rule=f"model_{uuid.uuid4().hex[:8]}",
                title="model",
                discount_fen=discount,
                min_spend_fen=0,
                valid_seconds=30 * 86400,
                now=clock.now(),
            )
            if issued:
                tx.commit()
        finally:
            if self.faults:
                self.faults.enabled = True

    @precondition(lambda self: self.orders)
    @rule(i=st.integers(0, 50), partial=st.booleans(), line=st.integers(0, 2), units=st.integers(1, 3))
    def request_return(self, i: int, partial: bool, line: int, units: int) -> None:
        """A full return, or some units of one line: before receipt, in the window, after payment."""
        self._request_return(i, partial, line, units)

    @precondition(lambda self: self.orders)
    @rule(i=st.integers(0, 50), partial=st.booleans(), line=st.integers(0, 2), approve=st.booleans())
    def return_and_decide(self, i: int, partial: bool, line: int, approve: bool) -> None:
        """A return the merchant decides at once (so stories reach refunds of paid orders)."""
        request_id = self._request_return(i, partial, line, 1)
        if request_id is not None:
            self.decide_return(len(self.returns) - 1, approve)

    def _request_return(self, i: int, partial: bool, line: int, units: int) -> str | None:
        order_id, uid, order = self._order(i, o.PAID, o.RECEIVED, o.SHIPPED, o.OVERDUE)
        if not order:
            return None
        return self._ask_return(order_id, uid, order, partial, line, units)

    def _ask_return(
        self,
        order_id: str,
        uid: str,
        order: dict[str, Any],
        partial: bool,
        line: int = 0,
        units: int = 1,
        kind: str = "refund_only",
    ) -> str | None:
        body: dict[str, Any] = {"reason": "不合适", "kind": kind}
        left = [i for i in order["items"] if i["quantity"] - i.get("returned_quantity", 0) > 0]
        if partial and left:
            item = left[line % len(left)]
            left_units = item["quantity"] - item.get("returned_quantity", 0)
            body["items"] = [{"sku_id": item["sku_id"], "quantity": min(units, left_units)}]
        r = self._call("POST", f"/v1/orders/{order_id}/return-requests", body, as_=uid)
        self.reached[f"return:{order['status']}:{'partial' if 'items' in body else 'full'}:{r.status_code}"] += 1
        if r.status_code != 201:
            return None
        self.returns.append(r.json["request_id"])
        self.return_orders[r.json["request_id"]] = (order_id, uid)
        return str(r.json["request_id"])

    # --- after-sale: the goods' way back, the waits running out, disputes ----------------------------
    @precondition(lambda self: self.orders)
    @rule(i=st.integers(0, 50), partial=st.booleans(), steps=st.integers(1, 3))
    def return_goods(self, i: int, partial: bool, steps: int) -> None:
        """A `return_goods` request taken `steps` far: approved, shipped back, arrived."""
        order_id, uid, order = self._order(i, o.PAID, o.RECEIVED, o.SHIPPED, o.OVERDUE)
        if not order:
            return
        request_id = self._ask_return(order_id, uid, order, partial, kind="return_goods")
        if request_id is None:
            return
        self.decide_return(len(self.returns) - 1, True)
        if steps >= 2:
            self._ship_back(request_id)
        if steps >= 3:
            self._confirm_arrival(request_id)

    @precondition(lambda self: self.returns)
    @rule(i=st.integers(0, 50))
    def ship_back(self, i: int) -> None:
        self._ship_back(self._request(i, "awaiting_return"))

    def _ship_back(self, request_id: str) -> None:
        order_id, uid = self.return_orders[request_id]
        body = {"carrier": "SF", "tracking_number": "SF654321"}
        r = self._call("POST", f"/v1/orders/{order_id}/return-requests/{request_id}/shipment", body, as_=uid)
        self.reached[f"ship_back:{r.status_code}"] += 1

    @precondition(lambda self: self.returns)
    @rule(i=st.integers(0, 50))
    def confirm_arrival(self, i: int) -> None:
        self._confirm_arrival(self._request(i, "returning"))

    def _confirm_arrival(self, request_id: str) -> None:
        path = f"/v1/merchant/return-requests/{request_id}/arrival"
        r = self._call("POST", path, {}, as_=self.merchant, roles=["merchant"])
        self.reached[f"arrival:{r.status_code}"] += 1

    @rule(wait=st.sampled_from(["answer", "ship_back", "arrival", "reship", "replacement"]))
    def aftersale_wait_runs_out(self, wait: str) -> None:
        """The merchant stays silent, the goods never ship back or never get confirmed, the
        replacement never ships, or its receipt is never confirmed."""
        rules = settings().rules
        seconds = {
            "answer": rules.aftersale_answer_seconds,
            "ship_back": rules.aftersale_ship_back_seconds,
            "arrival": rules.aftersale_arrival_seconds,
            "reship": rules.aftersale_answer_seconds,
            "replacement": rules.auto_confirm_receipt_seconds,
        }[wait]
        clock.advance(seconds + 60)
        self.run_job("advance_aftersale", False)

    @precondition(lambda self: self.orders)
    @rule(i=st.integers(0, 50), steps=st.integers(1, 6))
    def exchange(self, i: int, steps: int, order_id: str | None = None) -> None:
        """An exchange black ↔ red (same price) taken `steps` far: asked, approved, shipped
        back, arrived, the replacement reshipped, its receipt confirmed."""
        order_id, uid, order = self._order(i, o.RECEIVED, o.PAID, order_id=order_id)
        if not order:
            return
        swap = {self.skus[0]: self.skus[3], self.skus[3]: self.skus[0]}
        left = [x for x in order["items"] if x["sku_id"] in swap]
        if not left:
            return
        line = {"sku_id": left[0]["sku_id"], "quantity": 1, "to_sku_id": swap[left[0]["sku_id"]]}
        body = {"reason": "换颜色", "kind": "exchange", "items": [line]}
        r = self._call("POST", f"/v1/orders/{order_id}/return-requests", body, as_=uid)
        self.reached[f"exchange:{order['status']}:{r.status_code}:{(r.json or {}).get('code', '')}"] += 1
        if r.status_code != 201:
            return
        request_id = r.json["request_id"]
        self.returns.append(request_id)
        self.return_orders[request_id] = (order_id, uid)
        n = len(self.returns) - 1
        if steps >= 2:
            self.decide_return(n, True)
        if steps >= 3:
            self._ship_back(request_id)
        if steps >= 4:
            self._confirm_arrival(request_id)
        if steps >= 5:
            self._reship(request_id)
        if steps >= 6:
            got = self._call("POST", f"/v1/orders/{order_id}/receipt", {}, as_=uid)
            self.reached[f"exchange:received:{got.status_code}"] += 1

    @precondition(lambda self: self.returns)
    @rule(i=st.integers(0, 50))
    def reship(self, i: int) -> None:
        self._reship(self._request(i, "awaiting_reshipment"))

    def _reship(self, request_id: str) -> None:
        path = f"/v1/merchant/return-requests/{request_id}/reshipment"
        body = {"carrier": "SF", "tracking_number": "SF777777"}
        r = self._call("POST", path, body, as_=self.merchant, roles=["merchant"])
        self.reached[f"reship:{r.status_code}"] += 1

    @precondition(lambda self: self.returns)
    @rule(i=st.integers(0, 50))
    def escalate(self, i: int) -> None:
        request_id = self._request(i, "rejected")
        order_id, uid = self.return_orders[request_id]
        r = self._call("POST", f"/v1/orders/{order_id}/disputes", {"reason": "商家拒绝"}, as_=uid)
        self.reached[f"escalate:{r.status_code}:{(r.json or {}).get('code', '')}"] += 1
        if r.status_code == 201:
            self.disputes.append(r.json["dispute_id"])

    @precondition(lambda self: self.returns)
    @rule(i=st.integers(0, 50), refund=st.booleans(), twice=st.booleans())
    def reject_then_escalate_then_decide(self, i: int, refund: bool, twice: bool) -> None:
        """The whole dispute story: the merchant rejects, the buyer escalates, support decides."""
        self.decide_return(i, False)
        before = len(self.disputes)
        self.escalate(i)
        if len(self.disputes) > before:
            self.support_decides(len(self.disputes) - 1, refund, twice)

    @precondition(lambda self: self.disputes)
    @rule(i=st.integers(0, 50), refund=st.booleans(), twice=st.booleans())
    def support_decides(self, i: int, refund: bool, twice: bool) -> None:
        dispute_id = self.disputes[i % len(self.disputes)]
        key, body = new_key(), {"decision": "refund" if refund else "reject", "note": "model"}
        path = f"/v1/support/disputes/{dispute_id}/decision"
        first = self._call("POST", path, body, as_="s-model", roles=["support"], idem=key)
        self.reached[f"dispute:{body['decision']}:{first.status_code}"] += 1
        if twice:
            again = self._call("POST", path, body, as_="s-model", roles=["support"], idem=key)
            if first.status_code < 300 and again.status_code < 300:
                assert first.body == again.body
        self._refresh()

    @precondition(lambda self: self.returns)
    @rule(i=st.integers(0, 50), approve=st.booleans())
    def decide_return(self, i: int, approve: bool) -> None:
        request_id = self.returns[i % len(self.returns)]
        self._call(
            "POST",
            f"/v1/merchant/return-requests/{request_id}/decision",
            {"decision": "approve" if approve else "reject", "note": "model"},
            as_=self.merchant,
            roles=["merchant"],
        )

    @rule(seconds=st.sampled_from([60, 900, 3600, 86400, 3 * 86400, 8 * 86400]))
    def advance_clock(self, seconds: int) -> None:
        clock.advance(seconds)
        self._refresh()

    @rule(job=st.sampled_from(JOBS), twice=st.booleans())
    def run_job(self, job: str, twice: bool) -> None:
        if job not in schedules.names():
            return
        for _ in range(2 if twice else 1):
            try:
                result = schedules.run(job, clock.now())
            except Exception as exc:  # a job may fail under injected faults; the next run resumes
                if not (self.faults and _caused_by_injected_fault(exc)):
                    raise
            else:  # the production check agrees with `nothing_owed_is_forgotten`
                assert job != "check_obligations" or result["without_timer"] == 0, result
        self._refresh()

    @rule(user=st.integers(0, 1), amount=st.integers(1, 300))
    def redeem(self, user: int, amount: int) -> None:
        if not _has_route("/v1/wallet/redemptions"):
            return
        uid = self.users[user]
        r = self._call("POST", "/v1/wallet/redemptions", {"amount_fen": amount}, as_=uid, idem=new_key())
        if r.status_code in (200, 201, 202):
            self.redemptions.append(r.json["redemption_id"])

    @rule(times=st.integers(1, 2))
    def drain_queue(self, times: int) -> None:
        """Deliver waiting review messages (twice = a duplicate delivery)."""
        from chalicelib.api import dev
        from chalicelib.local import worker

        if not dev.QUEUE_HANDLERS:
            return
        if self.faults:
            self.faults.enabled = False
        try:
            for name, handler in dev.QUEUE_HANDLERS.items():
                url = worker.queue_url(name)
                msgs = worker.sqs().receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
                if not msgs:
                    continue
                event = worker.to_lambda_event(msgs, worker.queue_arn(name))
                for _ in range(times):
                    if self.faults:
                        self.faults.enabled = True
                    try:
                        handler(json.loads(json.dumps(event)), None)
                    finally:
                        if self.faults:
                            self.faults.enabled = False
                result = handler(event, None) or {}
                failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
                for m in msgs:
                    if m["MessageId"] not in failed:
                        worker.sqs().delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        finally:
            if self.faults:
                self.faults.enabled = True

    @precondition(lambda self: self.redemptions)
    @rule(i=st.integers(0, 50), approve=st.booleans())
    def review_redemption(self, i: int, approve: bool) -> None:
        rid = self.redemptions[i % len(self.redemptions)]
        self._call(
            "POST",
            f"/v1/review/redemptions/{rid}/decision",
            {"decision": "approve" if approve else "reject", "note": "model"},
            as_="reviewer-1",
            roles=["reviewer"],
        )

    @precondition(lambda self: self.orders)
    @rule(i=st.integers(0, 50), from_merchant=st.booleans())
    def send_message(self, i: int, from_merchant: bool) -> None:
        order_id, uid = self._pick(i, *o.STATUSES)
        if from_merchant:
            path, who = f"/v1/merchant/orders/{order_id}/messages", {"as_": self.merchant, "roles": ["merchant"]}
        else:
            path, who = f"/v1/orders/{order_id}/messages", {"as_": uid}
        r = self._call("POST", path, {"text": "请问什么时候发货？"}, **who)
        self.reached[f"message:{r.status_code}"] += 1

    @precondition(lambda self: self.orders)
    @rule(
        i=st.integers(0, 50),
        partial=st.booleans(),
        past=st.sampled_from(["due", "retry", "auto_confirm"]),
        approve=st.booleans(),
    )
    def return_pending_across_a_due_date(self, i: int, partial: bool, past: str, approve: bool) -> None:
        """A return request waits while the order's due time (window close, daily retry, or
        auto-confirmation) passes and its sweep runs; then the merchant decides."""
        order_id, uid, order = self._order(i, o.SHIPPED, o.RECEIVED, o.OVERDUE)
        if order and order["status"] in (o.SHIPPED, o.RECEIVED, o.OVERDUE):
            self._return_across(order_id, uid, order, partial, past, approve)

    @rule(
        user=st.integers(0, 1),
        receive=st.booleans(),
        partial=st.booleans(),
        past=st.sampled_from(["due", "retry", "auto_confirm"]),
        approve=st.booleans(),
    )
    def story_of_a_return_across_a_due_date(
        self, user: int, receive: bool, partial: bool, past: str, approve: bool
    ) -> None:
        """The whole story in one step: a two-line 先用后付 order shipped (and received), a
        return asked, the due time passing while it waits, the decision."""
        uid = self.users[user]
        items = [{"sku_id": sku, "quantity": 1} for sku in self.skus]
        r = self._call(
            "POST",
            "/v1/checkout",
            {"items": items, "payment_method": "bnpl", "address": ADDRESS},
            as_=uid,
            idem=new_key(),
        )
        if r.status_code != 201:
            return
        [order] = r.json["orders"]
        order_id = order["order_id"]
        self.orders.append((order_id, uid))
        body = {"challenge_id": order["challenge"]["challenge_id"], "password": PASSWORD}
        if self._call("POST", f"/v1/orders/{order_id}/confirmation", body, as_=uid, idem=new_key()).status_code >= 300:
            return
        shipment = {"carrier": "SF", "tracking_number": "SF123456"}
        path = f"/v1/merchant/orders/{order_id}/shipment"
        if self._call("POST", path, shipment, as_=self.merchant, roles=["merchant"]).status_code >= 300:
            return
        if receive:
            self._call("POST", f"/v1/orders/{order_id}/receipt", {}, as_=uid)
        seen = self._call("GET", f"/v1/orders/{order_id}", as_=uid)
        if seen.status_code == 200:
            self._return_across(order_id, uid, seen.json, partial, past, approve)

    def _return_across(
        self, order_id: str, uid: str, order: dict[str, Any], partial: bool, past: str, approve: bool
    ) -> None:
        request_id = self._ask_return(order_id, uid, order, partial)
        if request_id is None:
            return
        rules = settings().rules
        clock.advance(
            {
                "due": rules.payment_window_seconds,
                "retry": rules.collection_retry_seconds,
                "auto_confirm": rules.auto_confirm_receipt_seconds,
            }[past]
            + 60
        )
        for job in ("close_payment_windows", "auto_confirm_receipts", "complete_orders"):
            self.run_job(job, False)
        self.decide_return(self.returns.index(request_id), approve)
        self._refresh()

    @rule(user=st.integers(0, 1), last4=st.sampled_from(["3446", DECLINING_LAST4, PENDING_LAST4]))
    def use_card(self, user: int, last4: str) -> None:
        """Make a card the default: one that pays, one that declines, or one whose charge
        times out (pending) and later succeeds."""
        uid = self.users[user]
        number = GOOD_CARD if last4 == "3446" else card_ending(last4)
        r = self._call("POST", "/v1/me/bank-cards", {"card_number": number}, as_=uid)
        if self.faults:
            self.faults.enabled = False
        try:
            cards = self.api.call("GET", "/v1/me/bank-cards", as_=uid).json["items"]
            found = [c["card_id"] for c in cards if c["last4"] == last4]
            if found:  # the app's "make default" route
                made = self.api.call("PUT", f"/v1/me/bank-cards/{found[0]}/default", as_=uid)
                assert made.status_code == 200, made.json
                self.reached[f"card:{last4}:{r.status_code}"] += 1
        finally:
            if self.faults:
                self.faults.enabled = True

    # --- payouts (T+1): run_payouts is one of JOBS; the merchant's account is set in _setup ---
    def _set_payout_account(self) -> None:
        if _has_route("/v1/merchant/payout-account"):
            body = {"account_name": "某某科技", "account_number": "6222020200112233446", "bank": "招商银行"}
            self._ok(
                self.api.put("/v1/merchant/payout-account", body, as_=self.merchant, roles=["merchant"]), "payouts"
            )

    # --- risk decisions (风控): bursts, a blocked card, a first big order, reviews -------------
    def _risk(self, method: str, path: str, body: Any = None) -> Any:
        idem = new_key() if method != "GET" else None
        return self._call(method, path, body, as_=f"k-{self.tag}", roles=["risk"], idem=idem)

    @rule(user=st.integers(0, 1), n=st.integers(5, 7))
    def risk_burst(self, user: int, n: int) -> None:
        """Many small 先用后付 orders at once: past 5 an hour the rules decline (402)."""
        for _ in range(n):
            self.buy(user, [(1, 1)], False, o.PLACED)

    @rule(user=st.integers(0, 1))
    def risk_blocked_card(self, user: int) -> None:
        """The buyer's card on the block list: the confirmation is declined; then unblocked."""
        uid = self.users[user]
        me = self._call("GET", "/v1/me", as_=uid)
        card = (me.json or {}).get("default_card_id") if me.status_code == 200 else None
        if not card:
            return
        self._risk("POST", "/v1/risk/blocklist", {"kind": "card", "value": card, "reason": "model"})
        self.buy(user, [(2, 1)], False, o.PLACED)
        # Unblocked for sure (a listed card cannot be made the default again), even when a
        # fault lost the answer of the entry's creation.
        armed = bool(self.faults and self.faults.enabled)
        if self.faults:
            self.faults.enabled = False
        try:
            listed = self._risk("GET", "/v1/risk/blocklist?limit=100").json["items"]
            for entry in (e for e in listed if e["reason"] == "model"):
                self._risk("DELETE", f"/v1/risk/blocklist/{entry['entry_id']}")
        finally:
            if self.faults:
                self.faults.enabled = armed

    # Two newcomers a story at most, once others have shopped: stock is for everyone.
    @precondition(lambda self: len(self.users) < 4 and len(self.orders) >= 3)
    @rule()
    def risk_first_big_order(self) -> None:
        """A new buyer's first order above ¥300 is held for review (202, `risk_review`)."""
        armed = bool(self.faults and self.faults.enabled)
        if self.faults:
            self.faults.enabled = False
        uid = f"u-{self.tag}-{len(self.users)}"
        try:
            self._ok(
                self.api.post("/v1/me/identity", {"real_name": "李四", "id_number": unique_id_number()}, as_=uid), "id"
            )
            self._ok(self.api.post("/v1/me/bank-cards", {"card_number": GOOD_CARD}, as_=uid), "card")
            self._ok(self.api.put("/v1/me/payment-password", {"password": PASSWORD}, as_=uid), "password")
            activation = {"agreement_version": settings().rules.agreement_version}
            self._ok(self.api.post("/v1/bnpl/activation", activation, as_=uid), "activation")
            self.address_ids[uid] = self._ok(self.api.post("/v1/me/addresses", ADDRESS, as_=uid), "address")[
                "address_id"
            ]
        finally:
            if self.faults:
                self.faults.enabled = armed
        self.users.append(uid)
        self.buy(len(self.users) - 1, [(0, 5)], False, o.PLACED)  # 5 × ¥66.67

    def _held(self, i: int) -> str | None:
        r = self._risk("GET", "/v1/risk/reviews?status=pending&limit=100")
        ours = {oid for oid, _ in self.orders}
        cases = [c["review_id"] for c in (r.json or {}).get("items", []) if c["order_id"] in ours]
        return cases[i % len(cases)] if r.status_code == 200 and cases else None

    @rule(i=st.integers(0, 50), approve=st.booleans(), twice=st.booleans())
    def risk_review_decided(self, i: int, approve: bool, twice: bool) -> None:
        review_id = self._held(i)
        if review_id is None:
            return
        body = {"decision": "approve" if approve else "decline", "note": "model"}
        for _ in range(2 if twice else 1):
            r = self._risk("POST", f"/v1/risk/reviews/{review_id}/decision", body)
            self.reached[f"risk_review:{body['decision']}:{r.status_code}"] += 1
        self._refresh()

    @precondition(lambda self: o.RISK_REVIEW in self.status.values())
    @rule()
    def risk_review_times_out(self) -> None:
        clock.advance(settings().rules.risk_review_seconds)
        self.run_job("expire_risk_reviews", False)

    @invariant()
    def risk_holds(self) -> None:
        """Scans two tables: every FULL_EVERY-th step under faults, every step without."""
        self.risk_checks = getattr(self, "risk_checks", 0) + 1
        if self.risk_checks % FULL_EVERY == 1 or not self.faults:
            check_risk(self)

    # --- account closure and after-sale limits (issue 22) -----------------------------------
    @rule(user=st.integers(0, 1))
    def close_account(self, user: int) -> None:
        """Close an account: refused (409) while anything is open, else it is closed for good
        (a 503 is retried with its key: a closure whose answer was lost replays its 200)."""
        uid = self.users[user]
        r = self._call("POST", "/v1/me/closure", as_=uid, idem=new_key())
        self.reached[f"closure:{r.status_code}:{(r.json or {}).get('code', '')}"] += 1
        if r.status_code == 200:  # a newcomer takes the closed user's place in the stories
            self.closed_users.append(uid)
            self.users[user] = f"{uid}-{len(self.closed_users)}"
            if self.faults:
                self.faults.enabled = False
            try:
                self._enroll(user, self.users[user])
            finally:
                if self.faults:
                    self.faults.enabled = True

    @precondition(lambda self: self.returns)
    @rule(i=st.integers(0, 50))
    def escalate_by_request(self, i: int) -> None:
        """Escalate a rejected request by naming it (a later request on the order does not matter)."""
        request_id = self._request(i, "rejected")
        order_id, uid = self.return_orders[request_id]
        body = {"reason": "商家拒绝", "request_id": request_id}
        r = self._call("POST", f"/v1/orders/{order_id}/disputes", body, as_=uid)
        self.reached[f"escalate_by_request:{r.status_code}:{(r.json or {}).get('code', '')}"] += 1
        if r.status_code == 201:
            self.disputes.append(r.json["dispute_id"])

    @precondition(lambda self: self.orders)
    @rule(i=st.integers(0, 50))
    def exchange_to_the_limit(self, i: int) -> None:
        """Whole exchanges of one order, one more than a line allows (the last is a 409)."""
        order_id, _, order = self._order(i, o.RECEIVED, o.PAID)
        if order is None:
            return
        for _ in range(settings().rules.exchanges_per_line_max + 1):
            self.exchange(0, 6, order_id=order_id)

    # --- switching channel mid-payment (issue 22): the simulated channels decide what is paid ---
    @precondition(lambda self: self.orders)
    @rule(
        i=st.integers(0, 50),
        first=st.sampled_from(["alipay", "wechat_pay"]),
        then=st.sampled_from(["card", "card", "wallet", "alipay", "wechat_pay"]),
        steps=st.lists(st.sampled_from(["pay_in_app", "notify", "tap"]), min_size=2, max_size=4),
    )
    def switch_channel_mid_payment(self, i: int, first: str, then: str, steps: list[str]) -> None:
        """A trade opened in one channel's app, then, in any order: the user pays it there
        (its notification late), the user pays and the notification arrives (or arrives
        again), the user taps pay now on another channel. The invariant
        `one_captured_payment` says the buyer was charged at most once."""
        from chalicelib.channels.sandbox import NoSuchNotification, notification
        from chalicelib.channels.simulator import SIMULATOR

        order_id, uid = self._pick(i, o.AWAITING_PAYMENT, o.RECEIVED, o.OVERDUE)
        r = self._call("POST", f"/v1/orders/{order_id}/payments", {"channel": first}, as_=uid, idem=new_key())
        if r.status_code >= 300 or (r.json or {}).get("channel") != first or "payment_id" not in r.json:
            return
        trade, amount = r.json["payment_id"], int(r.json["amount_fen"])
        SIMULATOR.open(trade, amount)
        self.switched.add(order_id)
        for step in steps:
            if step == "pay_in_app":
                self.reached[f"switch:paid_in_app:{SIMULATOR.pay(trade, amount) is not None}"] += 1
            elif step == "notify":  # the simulated channel refuses to pay (and notify) a closed trade
                try:
                    path, raw, headers = notification(first, trade, amount, "CNY", "succeeded", clock.now())
                except NoSuchNotification:
                    continue
                path = f"/v1/channels/{path}/notify"  # answered in the channel's format (Alipay: text)
                notified = self.api.client.http.request(method="POST", path=path, headers=headers, body=raw)
                self.reached[f"switch:notified:{notified.status_code}"] += 1
                assert notified.status_code < 500 or (notified.status_code == 503 and self.faults), notified.body
            elif step == "tap":
                tapped = self._call(
                    "POST", f"/v1/orders/{order_id}/payments", {"channel": then}, as_=uid, idem=new_key()
                )
                self.reached[f"switch:{first}->{then}:{tapped.status_code}:{(tapped.json or {}).get('code', '')}"] += 1
        self._refresh()

    @invariant()
    def one_captured_payment(self) -> None:
        """An order switched mid-payment was charged at most once (refunded or not); an
        installment order once per part (switched again for a later part: check_installments)."""
        if not self.switched:
            return
        from chalicelib.models.orders import Order
        from chalicelib.models.payments import PaymentAttempt

        with _faults_off(self):
            for order_id in self.switched:
                if Order.get(order_id, consistent_read=True).installment_plan:
                    continue
                captured = [
                    (a.attempt_id, a.channel, a.status, a.outcome)
                    for a in PaymentAttempt.by_order.query(order_id)
                    if a.status in ("succeeded", "refunded")
                ]
                assert len(captured) <= 1, f"order {order_id} was charged {len(captured)} times: {captured}"

    # --- merchant webhooks (issue 27): a receiver that fails and recovers at random -----------
    webhook_endpoint: str = ""

    @initialize()
    def webhook_subscribe(self) -> None:
        """The merchant listens to every event from the start (faults off: setup)."""
        if not _has_route("/v1/merchant/webhook-endpoints"):
            return
        with _faults_off(self):
            hooks = webhook_receiver()
            body = {"url": hooks.url, "events": ["*"]}
            made = self._ok(
                self.api.post("/v1/merchant/webhook-endpoints", body, as_=self.merchant, roles=["merchant"]), "hook"
            )
        hooks.secrets.append(made["secret"])
        self.webhook_endpoint = made["endpoint_id"]
        self.__dict__["webhook_promised"] = {made["secret"]: ""}  # signs until rolled (webhook_roll_secret)
        WEBHOOK_ANSWER["status"] = 200

    @precondition(lambda self: self.webhook_endpoint)
    @rule(status=st.sampled_from([200, 200, 500, 503, 429, 410]))
    def deliver_webhooks(self, status: int) -> None:
        """The receiver is up (200) or down (5xx, 429 with Retry-After, 410 Gone) while the
        worker takes what waits on its queue and the sweep sends what is due."""
        from chalicelib.local import worker

        WEBHOOK_ANSWER["status"] = status
        handler = _webhook_handler()
        try:
            worker.poll_once({settings().webhook_queue_name: handler})
            schedules.run("deliver_webhooks", clock.now())
        except Exception as exc:  # a worker may fail under injected faults; SQS and the timer retry
            if not (self.faults and _caused_by_injected_fault(exc)):
                raise

    @precondition(lambda self: self.webhook_endpoint)
    @rule()
    def webhook_receiver_recovers_and_everything_arrives(self) -> None:
        """Once the receiver is back and the merchant re-enables and redelivers what failed,
        every committed event has arrived at least once, signed."""
        from chalicelib.local import worker
        from chalicelib.models.webhooks import DELIVERED

        WEBHOOK_ANSWER["status"] = 200
        who = {"as_": self.merchant, "roles": ["merchant"]}
        with _faults_off(self):
            path = f"/v1/merchant/webhook-endpoints/{self.webhook_endpoint}"
            if self._ok(self.api.get(path, **who), "endpoint")["status"] == "disabled":
                self._ok(self.api.put(path, {"enabled": True}, **who), "re-enable")
            for event in _webhook_events(self.merchant):
                if event.delivery != DELIVERED:
                    self._ok(self.api.post(f"/v1/merchant/webhook-events/{event.event_id}/redelivery", **who), "redo")
            worker.drain({settings().webhook_queue_name: _webhook_handler()})
            stored = {e.event_id for e in _webhook_events(self.merchant)}
        arrived = {d.headers["webhook-id"] for d in webhook_receiver().received if d.verified}
        assert stored <= arrived, sorted(stored - arrived)
        self.reached["webhook:all_arrived"] += 1

    @invariant()
    def webhooks_hold(self) -> None:
        """Reads the merchant's events: every FULL_EVERY-th step under faults, every step without."""
        self.webhook_checks = getattr(self, "webhook_checks", 0) + 1
        if not self.webhook_endpoint or (self.faults and self.webhook_checks % FULL_EVERY != 1):
            return
        with _faults_off(self):
            check_webhooks(self)

    # --- installments (分期, issue 26): buy in parts, pay a part, everything or a month's bill,
    # returns at every stage (the return rules pick these orders too), months passing. One
    # contiguous block; its invariant is `check_installments` (parts sum to what is owed, none
    # negative, every part paid once, the fee book is the unpaid fee, bill money all resolved).
    def _in_parts(self) -> list[tuple[str, str]]:
        mine: set[str] = self.__dict__.setdefault("parts_orders", set())
        return [(oid, uid) for oid, uid in self.orders if oid in mine]

    @rule(user=st.integers(0, 1), parts=st.sampled_from([3, 6, 12]), until=st.sampled_from([o.PLACED, o.RECEIVED]))
    def buy_in_parts(self, user: int, parts: int, until: str) -> None:
        uid = self.users[user]
        total = self.prices[0] * 2  # ¥133.34: eligible, and an odd amount
        plans = self._call("GET", f"/v1/bnpl/plans?amount_fen={total}", as_=uid)
        if plans.status_code != 200:
            return
        quote = next(p for p in plans.json["plans"] if p["parts"] == parts)
        assert sum(quote["parts_fen"]) == total + (quote["fee_fen"] if quote["fee_payer"] == "consumer" else 0)
        body = {
            "items": [{"sku_id": self.skus[0], "quantity": 2}],
            "payment_method": "bnpl",
            "address": ADDRESS,
            "installments": {"parts": parts, "schedule_checksum": quote["schedule_checksum"]},
        }
        r = self._call("POST", "/v1/checkout", body, as_=uid, idem=new_key())
        self.reached[f"installments:checkout:{r.status_code}:{(r.json or {}).get('code', '')}"] += 1
        if r.status_code != 201:
            return
        order_id = str(r.json["orders"][0]["order_id"])
        self.orders.append((order_id, uid))
        self.status[order_id] = r.json["orders"][0]["status"]
        self.__dict__.setdefault("parts_orders", set()).add(order_id)
        self.confirm(len(self.orders) - 1, twice=False, order_id=order_id)
        if until == o.RECEIVED and self.status.get(order_id) == o.PLACED:
            self.ship(0, order_id=order_id)
            if self.status.get(order_id) == o.SHIPPED:
                self.receive(0, order_id=order_id)

    @rule(
        i=st.integers(0, 50),
        scope=st.sampled_from(["next_part", "next_part", "all"]),
        channel=st.sampled_from(["card", "wallet"]),
    )
    def pay_a_part(self, i: int, scope: str, channel: str) -> None:
        fitting = [(oid, uid) for oid, uid in self._in_parts() if self.status.get(oid) in (o.RECEIVED, o.OVERDUE)]
        if not fitting:
            return
        order_id, uid = fitting[i % len(fitting)]
        body = {"channel": channel, "scope": scope}
        r = self._call("POST", f"/v1/orders/{order_id}/payments", body, as_=uid, idem=new_key())
        self.reached[f"installments:pay:{scope}:{r.status_code}:{(r.json or {}).get('code', '')}"] += 1
        self._refresh()

    @rule(
        user=st.integers(0, 1),
        ahead=st.integers(0, 1),
        channel=st.sampled_from(["card", "card", "alipay"]),
        notify=st.booleans(),
        twice=st.booleans(),
    )
    def pay_the_bill(self, user: int, ahead: int, channel: str, notify: bool, twice: bool) -> None:
        """This month's or next month's bill in one charge; Alipay's trade paid now or left open
        (its `bill_payment` timer closes it); the same key twice replays the first answer."""
        from chalicelib.channels import sandbox
        from chalicelib.services.installments.arithmetic import CHINA, add_months

        uid = self.users[user]
        month = add_months(clock.now(), ahead).astimezone(CHINA).strftime("%Y-%m")
        key = new_key()
        path = f"/v1/bnpl/bills/{month}/payments"
        r = self._call("POST", path, {"channel": channel}, as_=uid, idem=key)
        self.reached[f"installments:bill:{channel}:{r.status_code}:{(r.json or {}).get('code', '')}"] += 1
        if twice:
            again = self._call("POST", path, {"channel": channel}, as_=uid, idem=key)
            if r.status_code < 300 and again.status_code < 300:
                assert again.json == r.json
        if r.status_code == 201 and r.json["status"] == "pending" and channel == "alipay" and notify:
            try:
                where, raw, headers = sandbox.notification(
                    "alipay", r.json["payment_id"], r.json["amount_fen"], r.json["currency"], "succeeded", clock.now()
                )
            except sandbox.NoSuchNotification:
                return
            sent = self.api.client.http.request(
                method="POST", path=f"/v1/channels/{where}/notify", headers=headers, body=raw
            )
            assert sent.status_code < 500 or (sent.status_code == 503 and self.faults), sent.body
        self._refresh()

    @precondition(lambda self: self.orders)
    @rule(i=st.integers(0, 50), partial=st.booleans(), approve=st.booleans())
    def return_part_of_an_installment_order(self, i: int, partial: bool, approve: bool) -> None:
        """A return of one unit (half the order) or all of it, at whatever stage the schedule is."""
        mine = self._in_parts()
        if not mine:
            return
        order_id, uid = mine[i % len(mine)]
        r = self._call("GET", f"/v1/orders/{order_id}", as_=uid)
        if r.status_code != 200:
            return
        paid = sum(
            p["status"] == "paid"
            for p in self._call("GET", f"/v1/orders/{order_id}/installments", as_=uid).json["parts"]
        )
        self.reached[f"installments:return_after:{min(paid, 3)}_parts_paid"] += 1
        if self._ask_return(order_id, uid, r.json, partial) is not None:
            self.decide_return(len(self.returns) - 1, approve)

    @rule(days=st.sampled_from([28, 31, 33]))
    def a_month_passes(self, days: int) -> None:
        """The clock moves across a month: parts fall due and are collected (or go overdue)."""
        self.advance_clock(days * 86400)
        self.run_job("close_payment_windows", False)

    @rule(user=st.integers(0, 1))
    def read_this_months_bill(self, user: int) -> None:
        from chalicelib.services.installments.arithmetic import CHINA

        month = clock.now().astimezone(CHINA).strftime("%Y-%m")
        r = self._call("GET", f"/v1/bnpl/bills/{month}", as_=self.users[user])
        if r.status_code == 200:
            assert r.json["total_fen"] == sum(line["amount_fen"] for line in r.json["lines"])
            assert 0 <= r.json["unpaid_fen"] <= r.json["total_fen"]
            self.reached[f"installments:bill_lines:{min(len(r.json['lines']), 3)}"] += 1

    @invariant()
    def installments_hold(self) -> None:
        """Scans entries, timers and orders: every FULL_EVERY-th step under faults, every step
        without; and once more at the story's end (`_check_everything`)."""
        self.installment_checks = getattr(self, "installment_checks", 0) + 1
        if self.installment_checks % FULL_EVERY == 1 or not self.faults:
            with _faults_off(self):
                check_installments(self)

    # --- webhook secrets (s3-fixes): every rolled secret signs until its own expiry, a bounded
    # number of them; a roll's Idempotency-Key answer is never kept with the secret in plain text
    @precondition(lambda self: self.webhook_endpoint)
    # (a wait of at least 1 s: two pings in one instant of the frozen clock would share a sequence)
    @rule(overlap=st.sampled_from([0, 600, 86400, 86400]), wait=st.sampled_from([1, 300, 3600, 86400]))
    def webhook_roll_secret(self, overlap: int, wait: int) -> None:
        """The merchant rolls the secret (its answer lost, it asks again with the same key),
        the clock moves on, and a ping signs with exactly the secrets still promised."""
        from datetime import timedelta

        from chalicelib.clock import iso

        path = f"/v1/merchant/webhook-endpoints/{self.webhook_endpoint}"
        who = {"as_": self.merchant, "roles": ["merchant"]}
        # secret -> when it stops signing ("" for the current one, known once a roll answers)
        promised: dict[str, str] = self.__dict__.setdefault("webhook_promised", {})
        key, body, now = new_key(), {"previous_expires_in_seconds": overlap}, clock.now()
        r = self._call("POST", f"{path}/secret", body, idem=key, **who)
        if r.status_code >= 500:  # the same key once the store is back: the first answer, or the roll now
            with _faults_off(self):
                r = self._call("POST", f"{path}/secret", body, idem=key, **who)
        live = [s for s, ends in promised.items() if ends and ends > iso(now)]
        if r.status_code == 409:
            assert r.json["code"] == "too_many_signing_secrets" and overlap, r.json
            assert len(live) >= settings().webhooks.max_previous_secrets, (live, r.json)
            self.reached["webhook:roll_refused"] += 1
        else:
            self._ok(r, "roll")
            for old in [s for s, ends in promised.items() if not ends]:
                promised[old] = iso(now + timedelta(seconds=overlap))
            promised[r.json["secret"]] = ""
            webhook_receiver().secrets.append(r.json["secret"])
        with _faults_off(self):
            assert not any("whsec_" in str(v) for item in _scan_now("idempotency") for v in item.values())
            self.advance_clock(wait)
            sent = self._webhook_ping(path, who)
        if sent is None or not promised:
            return
        from standardwebhooks.webhooks import Webhook, WebhookVerificationError

        for secret, ends in promised.items():
            try:
                Webhook(secret).verify(sent.body, sent.headers)
                verified = True
            except WebhookVerificationError:
                verified = False
            assert verified == (not ends or ends > iso(clock.now())), (secret[:10], ends, iso(clock.now()))
        self.reached[f"webhook:signatures:{len(sent.headers['webhook-signature'].split())}"] += 1

    def _webhook_ping(self, path: str, who: dict[str, Any]) -> Any:
        """A ping delivered now (the endpoint enabled again if it was off), as received."""
        from chalicelib.local import worker

        WEBHOOK_ANSWER["status"] = 200
        if self._ok(self.api.get(path, **who), "endpoint")["status"] == "disabled":
            self._ok(self.api.put(path, {"enabled": True}, **who), "re-enable")
        event_id = self._ok(self.api.post(f"{path}/test", **who), "ping")["event_id"]
        worker.drain({settings().webhook_queue_name: _webhook_handler()})
        return next((d for d in webhook_receiver().received if d.headers.get("webhook-id") == event_id), None)

    # --- goods a dispute refunded on their way back (s3-fixes): the merchant's arrival puts
    # them back in stock once and moves no money (`returned_units` counts what arrived)
    @precondition(lambda self: self.orders)
    @rule(i=st.integers(0, 50), partial=st.booleans(), twice=st.booleans())
    def goods_arrive_after_a_dispute_refunded_them(self, i: int, partial: bool, twice: bool) -> None:
        """Returned, shipped back, never confirmed; the buyer escalates once that wait ran out,
        support refunds; then the goods arrive (the merchant confirms, perhaps twice)."""
        self.return_goods(i, partial, 2)
        request_id = self.returns[-1] if self.returns else None
        if request_id is None or self.request_status.get(request_id) != "returning":
            return
        order_id, uid = self.return_orders[request_id]
        merchant = {"as_": self.merchant, "roles": ["merchant"]}
        clock.advance(settings().rules.aftersale_arrival_seconds + 60)
        r = self._call(
            "POST", f"/v1/orders/{order_id}/disputes", {"reason": "没人签收", "request_id": request_id}, as_=uid
        )
        self.reached[f"late_arrival:escalate:{r.status_code}"] += 1
        if r.status_code != 201:
            return
        self.disputes.append(r.json["dispute_id"])
        self.support_decides(len(self.disputes) - 1, True, False)
        from chalicelib.models.aftersale import ReturnRequest

        with _faults_off(self):  # the goods arrive: taken back (they were refunded, not returned)
            if ReturnRequest.get(request_id, consistent_read=True).status != "refunded":
                return  # support's decision failed under a fault
            r = self._call("POST", f"/v1/merchant/return-requests/{request_id}/arrival", {}, **merchant)
        assert r.status_code == 200 and r.json["arrived_at"], r.json
        if twice:
            self._confirm_arrival(request_id)
        self.reached["late_arrival:arrived"] += 1

    # --- a blocked phone (s3-fixes): a password confirmation counts against the device it
    # names like a signed one, so a device on the block list declines it (it holds nothing)
    @rule(user=st.integers(0, 1))
    def risk_blocked_phone_with_the_password(self, user: int) -> None:
        uid, phone = self.users[user], f"phone-{self.tag}"
        added = self._risk("POST", "/v1/risk/blocklist", {"kind": "device", "value": phone, "reason": "model"})
        order_id = self._checkout(user, [(2, 1)], "bnpl", False)
        _, _, order = self._order(0, o.AWAITING_CONFIRMATION, order_id=order_id) if order_id else ("", "", None)
        if order and order.get("challenge"):
            body = {"challenge_id": order["challenge"]["challenge_id"], "password": PASSWORD, "device_id": phone}
            r = self._call("POST", f"/v1/orders/{order_id}/confirmation", body, as_=uid, idem=new_key())
            if added.status_code == 201:  # never placed nor held, whatever else refuses it first
                assert r.status_code not in (200, 202), (r.status_code, r.json)
            self.reached[f"risk:blocked_phone:{r.status_code}"] += 1
        if added.status_code == 201:
            self._risk("DELETE", f"/v1/risk/blocklist/{added.json['entry_id']}")

    # --- invariants (faults off while reading; each table scanned once per full check) -------
    def check_invariants(self, settings: Any, output: Any, runtimes: dict[str, float]) -> None:
        """Every invariant with faults off; then the next step's faults, drawn from Hypothesis' data."""
        if self.faults:
            self.faults.enabled = False
        super().check_invariants(settings, output, runtimes)
        if self.faults:
            schedule = current_build_context().data.draw(fault_schedule(self.faults.span)) if self.faults.span else []
            if schedule:
                note(f"# the next step's store calls fail (call index, fault): {schedule}")
            self.faults.arm(schedule)

    @invariant()
    def money_holds(self) -> None:
        """What the step wrote after each step; everything every FULL_EVERY steps."""
        full = self.steps % FULL_EVERY == 0 or not self.faults
        self.steps += 1
        if full:
            self._check_everything()
        else:
            check_step(self, self.faults.touched if self.faults else [])

    def _check_everything(self) -> None:
        _SNAPSHOT.clear()
        _SNAPSHOT["on"] = []
        try:
            check_invariants(self)
            check_nothing_owed_is_forgotten(self)
            check_payouts(self)
            check_closed_accounts(self)
        finally:
            _SNAPSHOT.clear()

    def teardown(self) -> None:
        if self.faults:
            self.faults.enabled = False
        MoneyMachine.steps_run += max(self.steps - 1, 0)
        if sys.exc_info()[0] is None:  # the story ended well: everything, once more
            self._check_everything()
            check_risk(self)
            check_installments(self)
            if self.webhook_endpoint:
                check_webhooks(self)


FULL_EVERY = int(os.environ.get("MODEL_FULL_EVERY", 10))


def check_step(m: MoneyMachine, touched: list[tuple[str, dict[str, Any]]]) -> None:
    """The invariants of what one step wrote: each ledger event it posted balances and is
    whole, each balance it changed equals its account's entries (and the credit headroom
    its limit less the balance), each order it changed moved legally. Costs what the step
    changed, not what the store holds."""
    assert not m.server_errors, m.server_errors
    ddb = boto3.client("dynamodb", region_name=settings().region)
    table = {name: settings().table(name) for name in ("entries", "balances", "orders")}
    accounts = {k["account"]["S"] for t, k in touched if t in (table["entries"], table["balances"])}
    events = {k["event_id"]["S"] for t, k in touched if t == table["entries"] and "event_id" in k}
    orders = {k["order_id"]["S"] for t, k in touched if t == table["orders"]}
    derived: dict[tuple[str, str], int] = defaultdict(int)
    legs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for account in sorted(accounts):
        for e in _query(ddb, table["entries"], "account", account):
            derived[(account, e["book"]["S"])] += _n(e, "amount")
            if _s(e, "event_id") in events:
                legs[_s(e, "event_id") or ""].append(e)
        for b in _query(ddb, table["balances"], "account", account):
            key = (account, b["book"]["S"])
            assert _n(b, "balance") == derived.get(key, 0), (
                f"stored {key} = {_n(b, 'balance')} ≠ derived {derived[key]}"
            )
            assert _n(b, "balance") >= 0 or key[1] in ledger.OVERDRAFT_BOOKS, f"{key} is negative"
            if key[1] == ledger.CREDIT:
                assert _n(b, "headroom") == _n(b, "limit") - _n(b, "balance"), f"credit headroom of {key}"
    for event_id in events:  # an event whose transaction failed wrote nothing
        if legs[event_id]:
            assert sum(_n(leg, "amount") for leg in legs[event_id]) == 0, f"event {event_id} does not balance"
            assert len(legs[event_id]) == _n(legs[event_id][0], "legs"), f"event {event_id} is missing legs"
    for order_id in sorted(orders):
        item = ddb.get_item(TableName=table["orders"], Key={"order_id": {"S": order_id}}, ConsistentRead=True)
        order = item.get("Item")
        if order is None:
            continue
        assert _s(order, "status") in o.STATUSES, order_id
        history = json.loads(order["history"]["S"]) if "history" in order else []
        for a, b in zip(history, history[1:], strict=False):
            assert b["status"] in LEGAL[a["status"]], f"{order_id}: {a['status']} → {b['status']}"


def _query(ddb: Any, table: str, key: str, value: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "#k = :v",
        "ExpressionAttributeNames": {"#k": key},
        "ExpressionAttributeValues": {":v": {"S": value}},
        "ConsistentRead": True,
    }
    while True:
        page = ddb.query(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def check_invariants(m: MoneyMachine) -> None:
    assert not m.server_errors, m.server_errors
    entries = _scan("entries")
    by_event: dict[str, list[dict[str, Any]]] = defaultdict(list)
    derived: dict[tuple[str, str], int] = defaultdict(int)
    for e in entries:
        by_event[_s(e, "event_id") or ""].append(e)
        derived[(e["account"]["S"], e["book"]["S"])] += _n(e, "amount")
    for event_id, legs in by_event.items():
        m.reached[f"event:{_s(legs[0], 'event_kind')}"] += 1
        assert sum(_n(leg, "amount") for leg in legs) == 0, f"event {event_id} does not balance"
        assert len(legs) == _n(legs[0], "legs"), f"event {event_id} is missing legs"
    balances = _scan("balances")
    for b in balances:
        key = (b["account"]["S"], b["book"]["S"])
        assert _n(b, "balance") == derived.get(key, 0), (
            f"stored {key} = {_n(b, 'balance')} ≠ derived {derived.get(key)}"
        )
        assert _n(b, "balance") >= 0 or key[1] in ledger.OVERDRAFT_BOOKS, f"{key} is negative"
        if key[1] == ledger.CREDIT:
            assert _n(b, "headroom") == _n(b, "limit") - _n(b, "balance"), f"credit headroom of {key}"
    for (account, book), total in derived.items():
        if account.startswith(("user#", "merchant#")) and book in ledger.STORED_BOOKS:
            assert any((b["account"]["S"], b["book"]["S"]) == (account, book) for b in balances) or total == 0

    orders = [x for x in _scan("orders") if _s(x, "merchant_id") == m.merchant]
    reserved_units: dict[str, int] = defaultdict(int)
    open_credit: dict[str, int] = defaultdict(int)
    for order in orders:
        status = _s(order, "status") or ""
        assert status in o.STATUSES, status
        m.reached[f"order:{status}"] += 1
        history = json.loads(order["history"]["S"]) if "history" in order else []
        for a, b in zip(history, history[1:], strict=False):
            assert b["status"] in LEGAL[a["status"]], f"{order['order_id']['S']}: {a['status']} → {b['status']}"
        items = json.loads(order["items"]["S"])
        if status not in (o.CANCELLED,):
            for item in items:
                reserved_units[item["sku_id"]] += int(item["quantity"])
        if _s(order, "payment_method") == o.BNPL and status in OPEN_BNPL:
            open_credit[_s(order, "user_id") or ""] += _n(order, "credit_reserved_fen")
    skus: dict[str, int] = defaultdict(int)
    for x in _scan("skus"):  # a SKU's stock shards ("<sku_id>#<k>") count for it
        sku_id = x["sku_id"]["S"].split("#")[0]
        if sku_id in m.initial_stock:
            assert _n(x, "stock") >= 0, f"stock of {x['sku_id']['S']} is negative"
            skus[sku_id] += _n(x, "stock")
    returned = returned_units(m)
    for sku_id, initial in m.initial_stock.items():
        # on hand + reserved + sold − returned (back in stock, the order's lines unchanged)
        assert skus[sku_id] + reserved_units[sku_id] - returned[sku_id] == initial, (
            f"stock of {sku_id} is not conserved"
        )
    for uid in m.users:
        used = derived.get((ledger.user_account(uid), ledger.CREDIT), 0)
        assert used == open_credit.get(uid, 0), (
            f"{uid}: credit used {used} ≠ open 先用后付 obligations {open_credit.get(uid)}"
        )

    for order in orders:
        # A closed account's kept orders have their address erased (privacy.scrub), no one else's.
        kept = [ADDRESS, ERASED_ADDRESS] if _s(order, "user_id") in m.closed_users else [ADDRESS]
        assert json.loads(order["address"]["S"]) in kept, f"{order['order_id']['S']} lost its address copy"
    # Every message is one notification to the other side (written in the same transaction).
    order_ids = {_s(x, "order_id") for x in orders}
    posted = [x for x in _scan("order_messages") if _s(x, "order_id") in order_ids]
    notified = {_s(n, "event_id") for n in _scan("notifications") if _s(n, "kind") == "order_message"}
    confirmed = {_s(x, "order_id"): _s(x, "confirmed_at") for x in orders}
    # Closure deletes the user's notifications (erasure.scrub): a merchant's message to them before it keeps none.
    closed_at = {_s(u, "user_id"): _s(u, "closed_at") for u in _scan("users") if _s(u, "user_id") in m.closed_users}
    for message in posted:
        if f"order_message:{_s(message, 'message_id')}" not in notified:  # only a buyer's, before confirmation
            at, confirmed_at = _s(message, "created_at") or "", confirmed.get(_s(message, "order_id"))
            erased = _s(message, "author") == "merchant" and at <= (closed_at.get(_s(message, "user_id")) or "")
            assert erased or (_s(message, "author") == "consumer" and (confirmed_at is None or at <= confirmed_at)), (
                "a message without its notification"
            )
    m.reached["messages"] += len(posted)

    succeeded: dict[str, int] = defaultdict(int)
    for attempt in _scan("payments") if "payments" in _tables() else []:
        if _s(attempt, "status") == "succeeded" and _s(attempt, "outcome") != "unapplied":
            succeeded[_s(attempt, "order_id") or ""] += 1
    in_parts = {_s(x, "order_id") for x in orders if _s(x, "installment_plan")}  # once per part: check_installments
    for order_id, n in succeeded.items():
        assert n <= 1 or order_id in in_parts or order_id.startswith("bill#"), f"order {order_id} was charged {n} times"
    check_amounts(m, entries, derived, balances, orders)
    if "redemptions" in _tables():
        for event_id, legs in by_event.items():
            if event_id.startswith("redemption:") and event_id.endswith(":credited"):
                assert len(legs) == _n(legs[0], "legs")
        credited = [e for e in by_event if e.startswith("redemption:") and "cash" in e]
        assert len(credited) == len(set(credited))


def check_risk(m: MoneyMachine) -> None:
    """Every 先用后付 confirmation was decided; credit is held only by an approved order or one
    awaiting review; a declined or timed-out one holds nothing."""
    orders = {x["order_id"]["S"]: x for x in _scan_now("orders") if _s(x, "merchant_id") == m.merchant}
    decisions = {_s(d, "order_id"): d for d in _scan_now("risk-decisions") if _s(d, "order_id") in orders}
    for order_id, order in orders.items():
        if _s(order, "payment_method") != o.BNPL:
            continue
        status, reserved = _s(order, "status"), _n(order, "credit_reserved_fen")
        decision = decisions.get(order_id)
        if order.get("challenge_used", {}).get("BOOL") or status == o.RISK_REVIEW:
            assert decision is not None, f"{order_id} was confirmed without a risk decision"
        if decision is None:
            assert reserved == 0, f"{order_id} holds {reserved} without a risk decision"
            continue
        outcome, review = _s(decision, "outcome"), _s(decision, "review_status")
        m.reached[f"risk:{outcome}:{review or ''}"] += 1
        if outcome == "decline" or review in ("declined", "expired"):
            assert status == o.CANCELLED and reserved == 0, f"{order_id} ({outcome}/{review}) holds {reserved}"
        if reserved > 0:
            assert outcome == "approve" or review in ("pending", "approved"), f"{order_id} holds credit unapproved"
        assert (status == o.RISK_REVIEW) == (review == "pending"), f"{order_id}: {status} but review {review}"


def check_payouts(m: MoneyMachine) -> None:
    """Paid out per the ledger = per the payout records; each payout sent once; never more
    than was settled; one payout per merchant and cut-off."""
    if "payouts" not in _tables():
        return
    account = ledger.merchant_account(m.merchant)
    legs = [e for e in _scan("entries") if e["account"]["S"] == account and _s(e, "book") == ledger.PAYABLE]
    by_kind: dict[str, int] = defaultdict(int)
    for e in legs:
        by_kind[_s(e, "event_kind") or ""] += _n(e, "amount")
    payouts = [x for x in _scan("payouts") if x["merchant_id"]["S"] == m.merchant]
    for x in payouts:
        m.reached[f"payout:{_s(x, 'status')}"] += 1
        assert _n(x, "amount_fen") > 0, x
    out = sum(_n(x, "amount_fen") for x in payouts if _s(x, "status") in ("sending", "paid"))
    assert -(by_kind["payout_sent"] + by_kind["payout_returned"]) == out, (dict(by_kind), out)
    assert out <= by_kind["merchant_settlement"], "paid out more than was ever settled"
    sent = [e for e in legs if _s(e, "event_kind") == "payout_sent"]
    assert len(sent) == len(payouts), "a payout record without its posting, or the reverse"
    assert len({_s(x, "cutoff") for x in payouts}) == len(payouts), "two payouts for one cut-off"


def returned_units(m: MoneyMachine) -> dict[str, int]:
    """Units back in stock that their order's lines still count: goods whose arrival was
    confirmed, except an exchange's once reshipped (its lines then moved to the replacement)."""
    back: dict[str, int] = defaultdict(int)
    for request in _scan("return_requests"):
        if _s(request, "merchant_id") != m.merchant or not _s(request, "arrived_at"):
            continue
        if _s(request, "status") in ("reshipped", "exchanged"):
            continue
        for line in json.loads(request["items"]["S"]):
            back[line["sku_id"]] += int(line["quantity"])
    return back


def check_closed_accounts(m: MoneyMachine) -> None:
    """A closed account has nothing open and no balance; nothing owed belongs to a user who
    cannot pay (a closed account); no order line is exchanged more than the limit."""
    from chalicelib.models.orders import Order
    from chalicelib.services.orders import obligations

    users = {_s(u, "user_id"): u for u in _scan("users") if _s(u, "user_id") in [*m.users, *m.closed_users]}
    closed = {uid for uid, u in users.items() if _s(u, "closed_at")}
    for uid in closed:
        m.reached["closure:closed"] += 1
        u = users[uid]
        assert not _s(u, "closing_id"), f"{uid}: closed with a closure marker"
        for counter in ("unpaid_bnpl_count", "open_redemptions", "open_returns"):
            assert _n(u, counter) <= 0, f"{uid}: closed with {counter} = {_n(u, counter)}"
        for book in (ledger.CASH, ledger.CREDIT, ledger.POINTS, ledger.POINTS_HELD):
            held = sum(
                _n(b, "balance")
                for b in _scan("balances")
                if (b["account"]["S"], b["book"]["S"]) == (ledger.user_account(uid), book)
            )
            assert held == 0, f"{uid}: closed holding {held} in {book}"
        for r in _scan("redemptions") if "redemptions" in _tables() else []:
            assert not (_s(r, "user_id") == uid and _s(r, "status") in ("pending", "manual_review")), (
                f"{uid}: closed with an open redemption"
            )
    # The counters closure conditions on are exact (the model's users buy from its merchant only).
    pending_returns: dict[str, int] = defaultdict(int)
    for item in _scan("orders"):
        if _s(item, "merchant_id") == m.merchant and _s(item, "pending_return_id"):
            pending_returns[_s(item, "user_id") or ""] += 1
    open_redemptions: dict[str, int] = defaultdict(int)
    for r in _scan("redemptions") if "redemptions" in _tables() else []:
        if _s(r, "status") in ("pending", "manual_review"):
            open_redemptions[_s(r, "user_id") or ""] += 1
    for uid, u in users.items():
        assert _n(u, "open_returns") == pending_returns[uid], f"{uid}: open_returns {_n(u, 'open_returns')}"
        assert _n(u, "open_redemptions") == open_redemptions[uid], f"{uid}: open_redemptions"
    for item in _scan("orders"):
        if _s(item, "merchant_id") != m.merchant:
            continue
        order = Order.from_raw_data(item)
        if order.user_id in closed:
            assert order.status in (o.CANCELLED, o.RETURNED, o.COMPLETED, o.PAID, o.RECEIVED), (
                f"{order.order_id}: {order.status} on a closed account"
            )
            assert not order.pending_return_id and not order.open_dispute_id, f"{order.order_id}: open after closure"
            assert not obligations.owes(order), f"{order.order_id} owes money a closed account cannot pay"
        for line in order.items or []:
            assert int(line.get("exchanges", 0)) <= settings().rules.exchanges_per_line_max, (
                f"{order.order_id}: {line['sku_id']} exchanged {line.get('exchanges')} times"
            )


def check_nothing_owed_is_forgotten(m: MoneyMachine) -> None:
    """An order with money due, or goods awaiting receipt, and no open after-sale request
    has a live timer that will act on it (services/obligations.py says which kinds)."""
    from chalicelib.models.orders import Order
    from chalicelib.services.orders import obligations

    live: dict[str, set[str]] = defaultdict(set)
    for t in _scan("timers"):
        live[_s(t, "ref") or ""].add(_s(t, "kind") or "")
    for item in _scan("orders"):
        if _s(item, "merchant_id") != m.merchant:
            continue
        order = Order.from_raw_data(item)
        if order.status == o.RETURN_REQUESTED:
            # An after-sale wait has its timer; a dispute waits for support (no timer, no collection).
            assert not (order.open_dispute_id and order.aftersale_timer), f"{order.order_id}: disputed and waiting"
            if order.aftersale_timer:
                assert order.aftersale_timer in live[order.order_id], (
                    f"{order.order_id} waits for {order.aftersale_timer} and no such timer is set"
                )
                m.reached[f"aftersale:{order.aftersale_timer}"] += 1
            if order.open_dispute_id:
                m.reached["aftersale:disputed"] += 1
        elif order.open_dispute_id:
            raise AssertionError(f"{order.order_id} has an open dispute but is {order.status}")
        if not obligations.owes(order):
            continue
        assert order.obligation, f"{order.order_id} ({order.status}) owes something but is not in the obligation index"
        if obligations.retries_spent(order):
            m.reached["obligation:retries_spent"] += 1
            continue
        kinds = set(obligations.ACTING[order.status])
        assert live[order.order_id] & kinds, (
            f"{order.order_id} ({order.status}, due {order.amount_due_fen}) owes something and no "
            f"{sorted(kinds)} timer will act on it; its timers: {sorted(live[order.order_id])}"
        )
        m.reached[f"obligation:{order.status}"] += 1


def check_amounts(
    m: MoneyMachine,
    entries: list[dict[str, Any]],
    derived: dict[tuple[str, str], int],
    balances: list[dict[str, Any]],
    orders: list[dict[str, Any]],
) -> None:
    """Money is right, not only balanced: settlement sums, points follow money, the limit
    follows kept on-time orders (issue 11). Each law is computed from the store, not from
    the code's own arithmetic."""
    from chalicelib.services import rewards

    rules = settings().rules
    mine = {_s(x, "order_id") for x in orders}
    applied: dict[str, int] = defaultdict(int)  # money the order took, through any channel
    paid_by: dict[str, str] = {}
    for attempt in _scan("payments"):
        oid = _s(attempt, "order_id") or ""
        if oid in mine and _s(attempt, "outcome") == "applied":
            applied[oid] += _n(attempt, "amount_fen")
            paid_by[oid] = _s(attempt, "purpose") or ""
    money_back: dict[str, int] = defaultdict(int)  # refunds owed or made through the channel
    for refund in _scan("refunds"):
        money_back[_s(refund, "order_id") or ""] += _n(refund, "amount_fen")
    released: dict[str, int] = defaultdict(int)  # 先用后付 credit a return released
    fee_booked: dict[str, int] = defaultdict(int)
    redeemed: dict[str, int] = defaultdict(int)  # points turned into cash
    for e in entries:
        ref, book, kind = _s(e, "ref") or "", e["book"]["S"], _s(e, "event_kind")
        if ref in mine and kind == "credit_released" and book == ledger.CREDIT:
            released[ref] -= _n(e, "amount")
        if ref in mine and book == "fee_revenue":
            fee_booked[ref] += _n(e, "amount")
        if kind == "redemption_points_consumed" and book == ledger.POINTS_HELD:
            redeemed[e["account"]["S"]] -= _n(e, "amount")
        if ref in mine and kind == "bill_part_applied" and book == ledger.BILL_PAYMENTS:
            applied[ref] += _n(e, "amount")  # a month's bill paid this order (its part)
            paid_by[ref] = "bill"

    points_due: dict[str, int] = defaultdict(int)
    on_time_kept: dict[str, int] = defaultdict(int)
    payable_total = 0
    for order in orders:
        oid, status, uid = _s(order, "order_id") or "", _s(order, "status"), _s(order, "user_id") or ""
        if status in (o.AWAITING_CONFIRMATION, o.CANCELLED) or (
            _s(order, "payment_method") != o.BNPL and "paid_at" not in order
        ):
            continue
        bnpl = _s(order, "payment_method") == o.BNPL
        total, subtotal, refunded = _n(order, "total_fen"), _n(order, "subtotal_fen"), _n(order, "refunded_fen")
        discount, due = subtotal - total, _n(order, "amount_due_fen")
        items = json.loads(order["items"]["S"])
        kept = sum(int(i["unit_price_fen"]) * (int(i["quantity"]) - int(i.get("returned_quantity", 0))) for i in items)
        # The consumer's side: every fen of the total is owed, paid, released or refunded.
        where = f"order {oid} ({status}, total {total}, refunded {refunded})"
        paid_in = applied[oid]
        if plan := (json.loads(order["installment_plan"]["S"]) if _s(order, "installment_plan") else None):
            # Installments: the principal still owed and the principal paid (the fee is its own book).
            due = sum(p["principal_fen"] for p in plan["schedule"] if p["status"] in ("scheduled", "due", "overdue"))
            paid_in = sum(p["principal_fen"] for p in plan["schedule"] if p["status"] == "paid")
            # The parts paid on time earned theirs; a return takes back what the order no
            # longer pays for (`rewards.reverse_points`: none of it once all is returned).
            earned = sum(
                rewards.points_for(p["principal_fen"] // 100 * 100)
                for p in plan["schedule"]
                if p["status"] == "paid" and p["on_time"]
            )
            points_due[uid] += min(earned, rewards.points_for(total - refunded))
        if bnpl:
            assert total == released[oid] + due + paid_in, f"{where}: released + due + paid ≠ total"
        else:
            assert applied[oid] == total, f"{where}: paid {applied[oid]} ≠ total"
        assert refunded == released[oid] + money_back[oid], f"{where}: returns ≠ released + refunds"
        # What the consumer keeps paying is the kept goods less their share of the coupon.
        cost = total - refunded
        assert 0 <= kept - cost <= discount, f"{where}: kept goods {kept} cost {cost}"
        # Nothing kept costs nothing; a coupon as large as the goods may make them cost nothing too.
        assert (kept > 0 or cost == 0) and (discount > 0 or cost == kept), f"{where}: kept {kept} cost {cost}"
        # The merchant's side: payable + fee = the goods kept, the fee is the fee of them.
        payable, fee = _n(order, "settled_payable_fen"), _n(order, "settled_fee_fen")
        settled = (kept - kept * rules.platform_fee_bps // 10_000, kept * rules.platform_fee_bps // 10_000)
        assert (payable, fee) == (settled if "received_at" in order else (0, 0)), f"{where}: settled {payable, fee}"
        assert fee_booked[oid] == fee, f"{where}: fee booked {fee_booked[oid]} ≠ {fee}"
        payable_total += payable
        if "received_at" in order and discount:
            m.reached["amounts:coupon_order_received"] += 1
        if refunded and "paid_at" in order:
            m.reached[f"amounts:returned_after_payment:{'all' if kept == 0 else 'part'}"] += 1
        if released[oid] and applied[oid]:
            m.reached["amounts:released_then_paid"] += 1
        # On time is judged against due_at, except the window's own auto-debit.
        if order.get("paid_on_time", {}).get("BOOL"):
            assert bnpl and (
                paid_by.get(oid) == "collection" or (_s(order, "paid_at") or "") <= (_s(order, "due_at") or "")
            ), f"{where}: paid {_s(order, 'paid_at')} after {_s(order, 'due_at')} counted on time"
            points_due[uid] += 0 if plan else rewards.points_for(cost)  # a plan's points come per part
            if status != o.RETURNED:
                on_time_kept[uid] += 1
    # Payouts (T+1) take from the payable book: what was sent and not returned is gone from it.
    merchant = ledger.merchant_account(m.merchant)
    paid_out = -sum(
        _n(e, "amount")
        for e in entries
        if e["account"]["S"] == merchant
        and e["book"]["S"] == ledger.PAYABLE
        and _s(e, "event_kind") in ("payout_sent", "payout_returned")
    )
    payable_book = derived.get((merchant, ledger.PAYABLE), 0)
    assert payable_book == payable_total - paid_out, (
        f"merchant payable {payable_book} ≠ settled {payable_total} − paid out {paid_out}"
    )
    # The same from the ledger alone: settled − reversed (returns, disputes) − paid out.
    by_kind: dict[str, int] = defaultdict(int)
    for e in entries:
        if e["account"]["S"] == merchant and e["book"]["S"] == ledger.PAYABLE:
            by_kind[_s(e, "event_kind") or ""] += _n(e, "amount")
    settled, reversed_ = by_kind["merchant_settlement"], -by_kind["merchant_settlement_reversed"]
    assert payable_book == settled - reversed_ - paid_out, (
        f"merchant payable {payable_book} ≠ settled {settled} − reversed {reversed_} − paid out {paid_out}"
    )
    if reversed_ and payable_book < 0:
        m.reached["amounts:payable_negative_after_reversal"] += 1

    users = {x["user_id"]["S"]: x for x in _scan("users") if x["user_id"]["S"] in m.users}
    limits = {b["account"]["S"]: _n(b, "limit") for b in balances if b["book"]["S"] == ledger.CREDIT}
    for uid in m.users:
        account = ledger.user_account(uid)
        held = sum(derived.get((account, book), 0) for book in (ledger.POINTS, ledger.POINTS_HELD, ledger.POINTS_OWED))
        assert held + redeemed[account] == points_due[uid], (
            f"{uid}: points held + owed + redeemed {held} + {redeemed[account]} ≠ earned and kept {points_due[uid]}"
        )
        assert _n(users[uid], "on_time_paid_count") == on_time_kept[uid], f"{uid}: on-time count"
        assert limits[account] == rewards.limit_for(on_time_kept[uid]), (
            f"{uid}: limit {limits[account]} for {on_time_kept[uid]} on-time orders kept"
        )


def _caused_by_injected_fault(exc: BaseException | None) -> bool:
    seen = 0
    while exc is not None and seen < 10:
        if "injected fault" in str(exc) or getattr(exc, "code", None) == "temporarily_unavailable":
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def _has_route(path: str) -> bool:
    import app

    return path in app.app.routes


def _tables() -> set[str]:
    prefix = settings().table("")
    return {
        name[len(prefix) :]
        for name in boto3.client("dynamodb", region_name=settings().region).list_tables()["TableNames"]
        if name.startswith(prefix)
    }


def steps_from_env(default_examples: int, default_steps: int) -> tuple[int, int]:
    return int(os.environ.get("MODEL_EXAMPLES", default_examples)), int(os.environ.get("MODEL_STEPS", default_steps))


# --- merchant webhooks (issue 27) ----------------------------------------------------------------
# The receiver's answer while it is up (200) or down; one receiver on 127.0.0.1 for every story.
WEBHOOK_ANSWER: dict[str, int] = {"status": 200}
_WEBHOOK_RECEIVER: list[Any] = []


def webhook_receiver() -> Any:
    from scripts.webhook_receiver import Delivery, Receiver

    def answer(_: Delivery) -> tuple[int, dict[str, str]]:
        status = WEBHOOK_ANSWER["status"]
        return status, ({"Retry-After": "30"} if status == 429 else {})

    if not _WEBHOOK_RECEIVER:
        _WEBHOOK_RECEIVER.append(Receiver([], answer).start())
    return _WEBHOOK_RECEIVER[0]


def _webhook_handler() -> Any:
    from chalicelib.local.handlers import QUEUE_HANDLERS

    return QUEUE_HANDLERS[settings().webhook_queue_name]


class _faults_off:  # noqa: N801 - used as a `with` statement
    def __init__(self, m: MoneyMachine) -> None:
        self.m = m
        self.was = False

    def __enter__(self) -> None:
        if self.m.faults:
            self.was, self.m.faults.enabled = self.m.faults.enabled, False

    def __exit__(self, *_: object) -> None:
        if self.m.faults:
            self.m.faults.enabled = self.was


def check_webhooks(m: MoneyMachine) -> None:
    """Nothing arrives that did not commit; every arrival verifies; per object, sequences grow
    with the changes they report, and the body carries the stored sequence."""
    stored = {e.event_id: e for e in _webhook_events(m.merchant)}
    mine = [d for d in webhook_receiver().received if d.headers.get("webhook-id", "").startswith("evt_")]
    for d in mine:
        assert d.verified, d.headers
    for d in mine:
        event = stored.get(d.headers["webhook-id"])
        if event is None:
            continue  # another story's merchant (the receiver is shared)
        assert d.event is not None and d.event["sequence"] == int(event.sequence), d.event
        assert d.event["type"] == event.type
    by_object: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for e in stored.values():
        by_object[(str(e.object_kind), str(e.object_id))].append(e)
    for key, events in by_object.items():
        seqs = [int(e.sequence) for e in events]
        assert len(set(seqs)) == len(seqs), (key, seqs)
        ordered = sorted(events, key=lambda e: int(e.sequence))
        times = [str(e.created_at) for e in ordered]
        assert times == sorted(times), (key, [(e.type, e.sequence, e.created_at) for e in ordered])
        m.reached[f"webhook:{ordered[-1].type}"] += 1


def check_installments(m: MoneyMachine) -> None:
    """Installment orders (issue 26): no part negative; the parts sum to principal + the
    consumer's fee less what returns and payoffs took off; while owed, the order owes its
    current part and holds the unpaid principal as credit; a closed order has no unpaid part;
    the money applied to an order (its own payments and the bill lines applied to it) is what
    its paid parts cost, so no part was paid twice; each user's fee book is the unpaid fee of
    their confirmed plans; every bill payment's money is applied or refunded."""
    from chalicelib.models.orders import Order
    from chalicelib.models.payments import PaymentAttempt
    from chalicelib.services.installments.state import plan_of

    fee_owed: dict[str, int] = defaultdict(int)
    bill_applied: dict[str, int] = defaultdict(int)
    held = 0
    for e in _scan("entries"):
        if e["book"]["S"] == ledger.BILL_PAYMENTS:
            held += _n(e, "amount")
            if _s(e, "event_kind") == "bill_part_applied":
                bill_applied[_s(e, "ref") or ""] += _n(e, "amount")
    # Bill money still held belongs to a bill payment whose `bill_payment` timer will resolve it.
    waiting = any(_s(t, "kind") == "bill_payment" for t in _scan("timers"))
    assert held <= 0 and (held == 0 or waiting), held
    for order_id, uid in m._in_parts():
        order = Order.get(order_id, consistent_read=True)
        plan = plan_of(order)
        assert plan is not None, order_id
        assert all(p.principal_fen >= 0 and p.fee_fen >= 0 for p in plan.schedule), plan
        if order.status != o.CANCELLED:  # a cancel ends every part (nothing was refunded: nothing was paid)
            kept = int(order.total_fen) - int(order.refunded_fen or 0)
            principal = sum(p.principal_fen for p in plan.schedule)
            assert principal >= kept, (order_id, principal, kept, plan)  # a return shrinks unpaid parts only
        current = plan.current
        if order.status in (o.RECEIVED, o.OVERDUE):
            assert current is not None and int(order.amount_due_fen) == current.amount_fen, (order_id, plan)
            assert order.due_at == current.due_at, (order_id, order.due_at, current)
            assert int(order.credit_reserved_fen) == plan.unpaid_principal_fen, (order_id, plan)
        if order.status in (o.PAID, o.COMPLETED, o.RETURNED, o.CANCELLED):
            assert current is None, (order_id, order.status, plan)
        applied = bill_applied[order_id] + sum(
            int(a.amount_fen)
            for a in PaymentAttempt.by_order.query(order_id)
            if a.outcome == "applied" and a.status in ("succeeded", "refunded")
        )
        paid = sum(p.amount_fen for p in plan.schedule if p.status == "paid")
        assert applied == paid, (order_id, applied, paid, plan)  # each part paid once
        if bill_applied[order_id]:
            m.reached["installments:paid_by_bill"] += 1
        if order.confirmed_at and plan.fee_payer == "consumer":
            fee_owed[uid] += sum(p.fee_fen for p in plan.schedule if p.unpaid)
        m.reached[f"installments:{order.status}"] += 1
    for uid in m.users:
        found = ledger.balances(ledger.user_account(uid)).get(ledger.INSTALLMENT_FEE_OWED)
        assert (int(found.balance) if found else 0) == fee_owed[uid], (uid, fee_owed[uid])


# The rules that move installments along, and what they meet on the way (single 先用后付
# orders share bills, returns, cards that decline, time and the jobs).
INSTALLMENT_RULES = frozenset(
    {
        "buy_in_parts",
        "pay_a_part",
        "pay_the_bill",
        "return_part_of_an_installment_order",
        "a_month_passes",
        "read_this_months_bill",
        "buy",
        "pay_now",
        "double_tap_pay_now",
        "cancel",
        "decide_return",
        "use_card",
        "advance_clock",
        "run_job",
    }
)


def installment_stories() -> type[MoneyMachine]:
    """The machine with only `INSTALLMENT_RULES` drawn (every invariant kept): short runs reach
    installment stories that the whole machine's 60 rules would rarely draw."""
    import inspect

    def plain(f: Any) -> Any:
        return lambda self, *args, **kwargs: f(self, *args, **kwargs)

    hidden = {
        name: plain(f)
        for name, f in inspect.getmembers(MoneyMachine)
        if getattr(f, "hypothesis_stateful_rule", None) is not None and name not in INSTALLMENT_RULES
    }
    return type("InstallmentStories", (MoneyMachine,), hidden)


def _webhook_events(merchant: str) -> list[Any]:
    """Every event of the merchant, oldest first, from every shard (#29: events are sharded)."""
    from chalicelib.models.webhooks import WebhookEvent
    from chalicelib.services.webhooks import event_keys

    return event_keys.merged(
        merchant, lambda key: iter(WebhookEvent.query(key, consistent_read=True)), newest_first=False, limit=10**6
    )
