"""Helpers for the shopping tests: a merchant's products, checkouts, confirmations,
and tools to watch DynamoDB (call counts, a race barrier, moto made atomic per request)."""

from __future__ import annotations

import base64
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from chalicelib.clock import clock
from chalicelib.db import connection
from chalicelib.models.registry import all_models
from chalicelib.services import confirmation
from tests.conftest import Api, new_key

MERCHANT = "m-shop-1"
MERCHANT_2 = "m-shop-2"
ADDRESS = {"name": "张三", "phone": "13800138000", "line1": "朝阳区建国路 1 号", "city": "北京"}
PASSWORD = "135790"  # the activated_user fixture's payment password


def create_product(
    api: Api, merchant: str = MERCHANT, name: str = "手机壳", skus: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    body = {
        "name": name,
        "description": "silicone",
        "skus": skus
        or [
            {"attributes": {"颜色": "黑色"}, "price_fen": 2990, "stock": 5},
            {"attributes": {"颜色": "粉色"}, "price_fen": 3290, "stock": 1},
        ],
    }
    r = api.post("/v1/merchant/products", body, as_=merchant, roles=["merchant"])
    assert r.status_code == 201, r.json
    return dict(r.json)


def sku_ids(product: dict[str, Any]) -> list[str]:
    return [s["sku_id"] for s in product["skus"]]


def checkout(
    api: Api,
    user: str,
    items: list[tuple[str, int]] | None = None,
    *,
    method: str = "bnpl",
    coupon_id: str | None = None,
    idem: str | None = None,
) -> Any:
    body: dict[str, Any] = {"payment_method": method, "address": ADDRESS}
    if items is None:
        body["from_cart"] = True
    else:
        body["items"] = [{"sku_id": s, "quantity": q} for s, q in items]
    if coupon_id:
        body["coupon_id"] = coupon_id
    return api.post("/v1/checkout", body, as_=user, idem=idem or new_key())


def confirm(api: Api, user: str, order: dict[str, Any], *, password: str = PASSWORD, idem: str | None = None) -> Any:
    body = {"challenge_id": order["challenge"]["challenge_id"], "password": password}
    return api.post(f"/v1/orders/{order['order_id']}/confirmation", body, as_=user, idem=idem or new_key())


def credit(api: Api, user: str) -> dict[str, int]:
    return dict(api.get("/v1/wallet", as_=user).json["credit"])


def stock_of(api: Api, product: dict[str, Any]) -> dict[str, int]:
    r = api.get(f"/v1/products/{product['product_id']}", as_="anyone")
    return {s["sku_id"]: s["stock"] for s in r.json["skus"]}


class DeviceKey:
    def __init__(self) -> None:
        self.private = ec.generate_private_key(ec.SECP256R1())

    @property
    def public_pem(self) -> str:
        return (
            self.private.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    def sign(self, nonce: str) -> str:
        return base64.b64encode(self.private.sign(nonce.encode("utf-8"), ec.ECDSA(hashes.SHA256()))).decode()


def _clients() -> list[Any]:
    clients = [connection().client]
    for model in all_models():
        client = model._get_connection().connection.client
        if all(client is not c for c in clients):
            clients.append(client)
    return clients


@contextmanager
def dynamodb_calls() -> Iterator[Counter[str]]:
    """Count DynamoDB API calls by operation (a botocore `before-call` hook on every client)."""
    seen: Counter[str] = Counter()

    def hook(model: Any, **_: Any) -> None:
        seen[model.name] += 1

    clients = _clients()
    for client in clients:
        client.meta.events.register("before-call.dynamodb", hook, unique_id="count-calls")
    try:
        yield seen
    finally:
        for client in clients:
            client.meta.events.unregister("before-call.dynamodb", unique_id="count-calls")


@contextmanager
def between_read_and_write(operation: str, meanwhile: Callable[[], Any]) -> Iterator[None]:
    """Run `meanwhile` once, right before the first DynamoDB `operation` call (e.g.
    "UpdateItem"): another action landing between this one's read and its write, made certain
    without threads (so the chalice test client can send the first request)."""
    done = threading.Event()

    def hook(**_: Any) -> None:
        if not done.is_set():
            done.set()
            meanwhile()

    clients = _clients()
    for client in clients:
        client.meta.events.register(f"before-call.dynamodb.{operation}", hook, unique_id="meanwhile")
    try:
        yield
    finally:
        for client in clients:
            client.meta.events.unregister(f"before-call.dynamodb.{operation}", unique_id="meanwhile")


@contextmanager
def atomic_moto() -> Iterator[None]:
    """Serialise each moto DynamoDB request, as DynamoDB applies each atomically.

    moto applies a request in steps (a condition check, then the write; a transaction's
    rollback restores whole tables), which is not atomic under threads.
    """
    from moto.dynamodb.responses import DynamoHandler

    lock = threading.RLock()
    original = DynamoHandler.call_action

    def atomic(self: Any) -> Any:
        with lock:
            return original(self)

    DynamoHandler.call_action = atomic  # type: ignore[method-assign]
    try:
        yield
    finally:
        DynamoHandler.call_action = original  # type: ignore[method-assign]


@contextmanager
def racing_transactions(parties: int, *, first_only: bool = False) -> Iterator[None]:
    """Make `parties` threads send their TransactWriteItems only once all have read.

    Each moto DynamoDB request is serialised (`atomic_moto`) so moto behaves like the
    service, and the barrier makes the race certain.
    `first_only`: only each thread's first transaction waits (the winner's later ones,
    which no other thread sends, go straight through instead of timing out the barrier).
    """
    with _racing(parties, "TransactWriteItems", first_only=first_only):
        yield


@contextmanager
def _racing(parties: int, at: str, *, first_only: bool) -> Iterator[tuple[threading.Barrier, threading.local]]:
    """Each thread's `at` calls (its first only, with `first_only`) wait until `parties` have come."""
    barrier = threading.Barrier(parties, timeout=10)
    waited = threading.local()

    def wait(**_: Any) -> None:
        if first_only and getattr(waited, "done", False):
            return
        waited.done = True
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            pass

    client = connection().client
    client.meta.events.register(f"before-call.dynamodb.{at}", wait, unique_id="race")
    try:
        with atomic_moto():
            yield barrier, waited
    finally:
        client.meta.events.unregister(f"before-call.dynamodb.{at}", unique_id="race")


def run_racing(*fns: Any, at: str = "TransactWriteItems") -> list[Any]:
    """`run_together`, each function making its first `at` call only once every other has
    reached its own or finished: e.g. they all read before any writes (two taps at one
    moment). One that ends without making the call releases the others (no wait for it)."""
    with _racing(len(fns), at, first_only=True) as (barrier, waited):

        def released(fn: Any) -> Any:
            def run() -> Any:
                try:
                    return fn()
                finally:
                    if not getattr(waited, "done", False):
                        barrier.abort()  # it never made the call: the others go on

            return run

        return run_together(*(released(fn) for fn in fns))


def confirming(user: str, order: dict[str, Any], password: str = PASSWORD) -> Callable[[], Any]:
    """A confirmation of a checkout's order straight through the service, for `run_together`
    (the HTTP client is not thread-safe); its result is the confirmed order or the error."""
    return lambda: confirmation.confirm(
        user,
        order["order_id"],
        challenge_id=order["challenge"]["challenge_id"],
        password=password,
        device_id=None,
        signature=None,
        now=clock.now(),
    )


def run_together(*fns: Any) -> list[Any]:
    """Run each function in its own thread; each result is its value or the exception raised."""
    results: list[Any] = [None] * len(fns)

    def run(i: int) -> None:
        try:
            results[i] = fns[i]()
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(fns))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return results


def two_card_taps(user: str, order_id: str) -> tuple[Any, Any]:
    """Two card taps on one order, the first landing as the second queries its attempts:
    (the first's result, the second's result or its DomainError)."""
    from chalicelib import errors
    from chalicelib.services import payments

    first: list[Any] = []
    with between_read_and_write("Query", lambda: first.append(payments.pay_now(user, order_id, "card", clock.now()))):
        try:
            second: Any = payments.pay_now(user, order_id, "card", clock.now())
        except errors.DomainError as err:
            second = err
    assert first, "the first tap never ran"
    return first[0], second
