"""`make bench` section `http`: the whole purchase path over HTTP against the local stack.

Starts `python -m chalicelib.local.stack` on free loopback ports, sets up users over the API
(identity, bank card, payment password, 先用后付 activation) and one product, then `clients`
threads each buy (checkout + confirmation, 先用后付) until `seconds` have passed or they made
`purchases_each` purchases. Reports p50/p99 per step and the errors; afterwards the ledger
reconciliation must find no drift and the stock must be conserved (what left the SKU is
what the successful checkouts reserved). Loopback only; bounded in clients, count and time.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
STOCK = 1_000_000
PRICE_FEN = 100
ADDRESS = {"name": "张三", "phone": "13800138000", "line1": "朝阳区建国路 1 号", "city": "北京"}
PASSWORD = "135790"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class Http:
    def __init__(self, base: str) -> None:
        self.base = base

    def call(
        self, method: str, path: str, body: Any = None, token: str | None = None, idem: bool = False
    ) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if idem:
            headers["Idempotency-Key"] = "bench-" + uuid.uuid4().hex[:24]
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as r:
                raw = r.read()
                return r.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as err:
            raw = err.read()
            try:
                return err.code, json.loads(raw)
            except ValueError:
                return err.code, None

    def ok(self, method: str, path: str, body: Any = None, token: str | None = None, idem: bool = False) -> Any:
        status, doc = self.call(method, path, body, token, idem)
        if status >= 300:
            raise RuntimeError(f"{method} {path}: {status} {doc}")
        return doc

    def token(self, sub: str, role: str) -> str:
        return str(self.ok("POST", "/v1/dev/tokens", {"sub": sub, "roles": [role]})["token"])


def _id_number(i: int) -> str:
    from chalicelib.services.validators import id_check_char

    first17 = f"11010519850307{i:03d}"
    return first17 + id_check_char(first17)


def _start_stack(
    overrides: dict[str, str | None] | None = None,
    output: Any = subprocess.DEVNULL,
    module: str = "chalicelib.local.stack",
) -> tuple[subprocess.Popen[bytes], str]:
    """The local stack on free loopback ports, answering /v1/health; `overrides` changes its
    environment (None removes a variable), `output` takes its stdout and stderr."""
    from chalicelib.config import stage_environment

    api_port = _free_port()
    env = {
        **os.environ,
        **stage_environment("local"),
        "PORT": str(api_port),
        "LOCAL_AWS_PORT": str(_free_port()),
        "LOCAL_SCHEDULE_SECONDS": "3600",  # no schedule runs in the middle of the measurement
        "LOG_LEVEL": "WARNING",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("DYNAMODB_ENDPOINT", None)
    env.pop("SQS_ENDPOINT", None)
    for name, value in (overrides or {}).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    proc = subprocess.Popen(
        [sys.executable, "-m", module],
        cwd=ROOT,
        env=env,
        stdout=output,
        stderr=output,
    )
    base = f"http://{HOST}:{api_port}"
    http = Http(base)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the local stack exited during start-up")
        try:
            if http.call("GET", "/v1/health")[0] == 200:
                return proc, base
        except OSError:
            pass
        time.sleep(0.5)
    _stop(proc)
    raise RuntimeError("the local stack did not answer /v1/health within 120 s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _activated_user(http: Http, i: int, agreement: str) -> str:
    token = http.token(f"u-http-{i:03d}", "consumer")
    http.ok("POST", "/v1/me/identity", {"real_name": "张三", "id_number": _id_number(i)}, token)
    http.ok("POST", "/v1/me/bank-cards", {"card_number": "6222020200112233446"}, token)
    http.ok("PUT", "/v1/me/payment-password", {"password": PASSWORD}, token)
    http.ok("POST", "/v1/bnpl/activation", {"agreement_version": agreement}, token, idem=True)
    return token


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000


def bench_http(clients: int, seconds: float, purchases_each: int) -> list[str]:
    from chalicelib.config import settings

    proc, base = _start_stack()
    try:
        http = Http(base)
        merchant = http.token("m-http", "merchant")
        product = http.ok(
            "POST",
            "/v1/merchant/products",
            {"name": "压测商品", "skus": [{"attributes": {}, "price_fen": PRICE_FEN, "stock": STOCK}]},
            merchant,
        )
        product_id, sku_id = product["product_id"], product["skus"][0]["sku_id"]
        tokens = [_activated_user(http, i, settings().rules.agreement_version) for i in range(clients)]

        latencies: dict[str, list[float]] = {"checkout": [], "confirmation": []}
        errors: Counter[str] = Counter()
        reserved = [0]
        lock = threading.Lock()
        stop_at = time.monotonic() + seconds

        def step(name: str, method: str, path: str, body: Any, token: str) -> Any:
            start = time.perf_counter()
            try:
                status, doc = http.call(method, path, body, token, idem=True)
            except OSError as exc:
                status, doc = 0, {"code": type(exc).__name__}
            took = time.perf_counter() - start
            with lock:
                latencies[name].append(took)
                if status >= 300 or status == 0:
                    errors[f"{name} {status} {(doc or {}).get('code', '')}".strip()] += 1
            return doc if 200 <= status < 300 else None

        def client(token: str) -> None:
            for _ in range(purchases_each):
                if time.monotonic() > stop_at:
                    return
                body = {"items": [{"sku_id": sku_id, "quantity": 1}], "payment_method": "bnpl", "address": ADDRESS}
                doc = step("checkout", "POST", "/v1/checkout", body, token)
                if doc is None:
                    continue
                with lock:
                    reserved[0] += 1
                order = doc["orders"][0]
                confirmation = {"challenge_id": order["challenge"]["challenge_id"], "password": PASSWORD}
                step("confirmation", "POST", f"/v1/orders/{order['order_id']}/confirmation", confirmation, token)

        started = time.perf_counter()
        threads = [threading.Thread(target=client, args=(t,)) for t in tokens]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started

        stock_after = http.ok("GET", f"/v1/products/{product_id}", token=tokens[0])["skus"][0]["stock"]
        reconciled = http.ok("POST", "/v1/dev/jobs/reconcile_ledger")["result"]
    finally:
        _stop(proc)

    done = len(latencies["confirmation"])
    rows = [
        f"{clients} concurrent clients over HTTP (loopback) against `make run`'s stack, "
        f"at most {purchases_each} purchases each or {seconds:.0f} s; {elapsed:.1f} s",
        f"{'step':<14} {'requests':>8} {'p50':>9} {'p99':>9}  {'req/s':>6}",
        "-" * 56,
    ]
    for name, values in latencies.items():
        rows.append(
            f"{name:<14} {len(values):>8} {_pct(values, 0.5):>7.0f}ms {_pct(values, 0.99):>7.0f}ms"
            f"  {len(values) / elapsed:>6.1f}"
        )
    rows.append(f"purchases/s  {done / elapsed:.1f}")
    rows.append("errors       " + (", ".join(f"{k}: {v}" for k, v in errors.most_common()) or "none"))
    conserved = STOCK - int(stock_after) == reserved[0]
    rows.append(
        f"stock        {STOCK:,} - {int(stock_after):,} = {STOCK - int(stock_after):,} reserved by "
        f"{reserved[0]:,} successful checkouts: {'conserved' if conserved else 'NOT CONSERVED'}"
    )
    rows.append(
        f"reconcile    {reconciled.get('events', '?')} events, {reconciled.get('accounts', '?')} accounts, "
        f"drift {reconciled.get('drift', '?')}"
    )
    rows.append(
        "(one run; the stack is one process: moto, the API and the worker share its GIL, and its DynamoDB "
        "answers one request at a time like the service's transactions, see chalicelib/local/serial.py)"
    )
    return rows


def bench_http_flash(clients: int, stock: int = 120, shards: int = 8) -> list[str]:
    """A flash sale over HTTP: `clients` buyers race for the last `stock` units of ONE SKU split
    over `shards` stock shards, each checking out one unit at a time until three answers in a
    row are `out_of_stock`. Sold (successful checkouts) must equal the stock taken off the
    SKU's shards, and never exceed the stock."""
    from chalicelib.config import settings

    proc, base = _start_stack()
    try:
        http = Http(base)
        merchant = http.token("m-http-flash", "merchant")
        sku = {"attributes": {}, "price_fen": PRICE_FEN, "stock": stock, "stock_shards": shards}
        product = http.ok("POST", "/v1/merchant/products", {"name": "直播爆款", "skus": [sku]}, merchant)
        product_id, sku_id = product["product_id"], product["skus"][0]["sku_id"]
        tokens = [_activated_user(http, i, settings().rules.agreement_version) for i in range(clients)]
        sold = [0] * clients
        answers: Counter[str] = Counter()
        lock = threading.Lock()

        def client(i: int) -> None:
            short = 0
            while short < 3:
                body = {"items": [{"sku_id": sku_id, "quantity": 1}], "payment_method": "bnpl", "address": ADDRESS}
                status, doc = http.call("POST", "/v1/checkout", body, tokens[i], idem=True)
                with lock:
                    answers[f"{status} {(doc or {}).get('code', '')}".strip()] += 1
                if status == 201:
                    sold[i] += 1
                    short = 0
                elif status == 409 and (doc or {}).get("code") == "out_of_stock":
                    short += 1
                elif status >= 500 or status == 0:
                    short += 1  # counted above; the run must still end

        started = time.perf_counter()
        threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
        left = int(http.ok("GET", f"/v1/products/{product_id}", token=tokens[0])["skus"][0]["stock"])
    finally:
        _stop(proc)
    total = sum(sold)
    ok = total == stock - left and total <= stock and left >= 0
    return [
        f"{clients} clients race for {stock} units of ONE SKU over {shards} stock shards (loopback), "
        f"one unit a checkout until 3 out_of_stock in a row; {elapsed:.1f} s",
        "answers      " + ", ".join(f"{k}: {v}" for k, v in answers.most_common()),
        f"sold         {total} (per client {sold})",
        f"stock        {stock} - {left} left = {stock - left} taken: "
        f"{'sold = taken, never more than the stock' if ok else 'OVERSOLD OR LOST'}",
    ]
