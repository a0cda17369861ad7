"""`make bench`: what a request costs, measured side by side in one run.

Sections (each runs in-process under moto unless it says otherwise):
  imports    `import app` vs `import boto3`, fresh processes, median of N
  calls      DynamoDB calls per operation for every route (a botocore hook on every client)
  sweeper    items read per closed window: 100,000 timers, 1 % due, swept to the end
  parts      installments: 100,000 part timers all due (tagged with their part): items read
             per part collected and parts claimed per second (one sweep run at full size)
  rps        requests/s of checkout and order read vs replaying their DynamoDB calls bare
  capacity   every write of N purchases (checkout + confirmation) by N users, scaled to
             10,000 purchases/s: the hottest partition key of every table and GSI
  risk       a 先用后付 risk decision's own time (its one BatchGet + the rules), median and
             p99 over 1,000 decisions, and the rules alone; the confirmation's DynamoDB calls
  http       the purchase path over HTTP with concurrent clients against the local stack
             (a subprocess on loopback): p50/p99, errors, then no ledger drift, stock conserved
  flash      clients race over HTTP for the last units of one SKU split over stock shards:
             sold = stock taken, never more than the stock
Numbers are printed, never asserted (tests/infra/test_bench.py only runs a tiny `--quick`).

Usage: python -m scripts.bench [--quick] [--only imports,calls,...]
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import random
import re
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = ("imports", "calls", "sweeper", "parts", "rps", "capacity", "risk", "http", "flash", "webhooks")
PARTITION_WCU_LIMIT = 1000  # DynamoDB: per partition, per second
TARGET_RATE = 10_000  # purchases per second in the capacity simulation
WRITE_OPS = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")


def _steady_state_shards() -> None:
    """`make bench` measures the steady state after any shard-count migration, with the
    capacity section's merchants (each ~10 % of 10,000 purchases/s) configured as very large."""
    large = ",".join(f"m-bench-{m}={MERCHANT_SHARDS}" for m in range(10))
    os.environ["BENCH_SHARD_ENV"] = f"1,{large},{FLASH_MERCHANT}={FLASH_MERCHANT_SHARDS}"


def _env() -> None:
    """The test environment (moto, the local stage's settings) before chalicelib is imported,
    with request logs off: one line per request would drown the tables."""
    import tests.conftest  # noqa: F401  (sets the environment exactly as the tests do)

    if os.environ.get("BENCH_SHARD_ENV"):
        os.environ["TIMER_SHARDS_PREVIOUS"] = os.environ["TIMER_SHARDS"]
        os.environ["LEDGER_SHARDS_PREVIOUS"] = os.environ["LEDGER_SHARDS"]
        os.environ["MERCHANT_ORDER_SHARDS"] = os.environ["MERCHANT_ORDER_SHARDS_PREVIOUS"] = os.environ[
            "BENCH_SHARD_ENV"
        ]
        os.environ["RISK_STATS_SHARDS_PREVIOUS"] = os.environ["RISK_STATS_SHARDS"]
        # The stage's merchant velocity cache (the tests turn it off); containers are modelled
        # by dropping it every `_refill(...)` purchases, as the SKU cache is.
        from chalicelib.config import stage_environment

        os.environ["RISK_MERCHANT_CACHE_SECONDS"] = stage_environment("local")["RISK_MERCHANT_CACHE_SECONDS"]

    os.environ["LOG_LEVEL"] = os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"
    from chalicelib.observability import logger

    logger.setLevel("WARNING")


# --- a botocore hook on every DynamoDB client ------------------------------------------------------


@dataclass
class Call:
    op: str
    params: dict[str, Any]
    parsed: dict[str, Any] = field(default_factory=dict)


def _clients() -> list[Any]:
    from tests.support.shopping import _clients

    return _clients()


@contextmanager
def recording() -> Iterator[list[Call]]:
    """Every DynamoDB call made inside, with its parameters and its parsed response."""
    calls: list[Call] = []
    pending: dict[int, Call] = {}

    def before(params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        call = Call(model.name, json.loads(json.dumps(params, default=str)))
        calls.append(call)
        context["bench_call"] = id(call)
        pending[id(call)] = call

    def after(parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        call = pending.pop(context.get("bench_call", 0), None)
        if call is not None:
            call.parsed = parsed

    clients = _clients()
    for client in clients:
        client.meta.events.register("before-parameter-build.dynamodb", before, unique_id="bench-before")
        client.meta.events.register("after-call.dynamodb", after, unique_id="bench-after")
    try:
        yield calls
    finally:
        for client in clients:
            client.meta.events.unregister("before-parameter-build.dynamodb", unique_id="bench-before")
            client.meta.events.unregister("after-call.dynamodb", unique_id="bench-after")


@contextmanager
def world() -> Iterator[Any]:
    """A fresh moto account with every table, the clock frozen, and the app's test client."""
    from chalice.test import Client
    from moto import mock_aws

    import app
    from chalicelib.clock import clock
    from chalicelib.local.resources import create_all
    from tests.conftest import T0, Api

    with mock_aws():
        create_all()
        clock.freeze(T0)
        try:
            with Client(app.app) as client:
                yield Api(client)
        finally:
            clock.reset()


def table_of(name: str) -> str:
    from chalicelib.config import settings

    prefix = settings().table_prefix + "-"
    return name[len(prefix) :] if name.startswith(prefix) else name


def _median_ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:8.1f} ms"


# --- imports ----------------------------------------------------------------------------------------


_HEALTH_EVENT = {
    "resource": "/v1/health",
    "path": "/v1/health",
    "httpMethod": "GET",
    "headers": {"Host": "api.local", "Accept": "application/json"},
    "multiValueHeaders": {},
    "queryStringParameters": None,
    "multiValueQueryStringParameters": None,
    "pathParameters": None,
    "stageVariables": None,
    "body": None,
    "isBase64Encoded": False,
    "requestContext": {
        "resourcePath": "/v1/health",
        "httpMethod": "GET",
        "path": "/api/v1/health",
        "stage": "api",
        "requestId": "bench",
        "identity": {"sourceIp": "127.0.0.1"},
    },
}


def _event(
    path: str,
    resource: str,
    params: dict[str, str] | None,
    token: str | None,
    method: str = "GET",
    body: str | None = None,
    extra: dict[str, str] | None = None,
) -> dict[str, Any]:
    headers = {**_HEALTH_EVENT["headers"], **({"Authorization": f"Bearer {token}"} if token else {}), **(extra or {})}
    context = {
        **_HEALTH_EVENT["requestContext"],
        "resourcePath": resource,
        "path": f"/api{path}",
        "httpMethod": method,
    }
    return {
        **_HEALTH_EVENT,
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "pathParameters": params,
        "requestContext": context,
        "body": body,
    }


# What the Lambda runtime hands the handler beside the event.
_CONTEXT = SimpleNamespace(
    aws_request_id="bench",
    function_name="paylater",
    memory_limit_in_mb=256,
    invoked_function_arn="arn:aws:lambda:cn-north-1:000000000000:function:paylater",
    function_version="1",
    log_group_name="g",
    log_stream_name="s",
)


def seed_order() -> None:
    """(Run in a subprocess against the bench's moto server.) Every table and one order;
    prints the order's id and a token of its buyer."""
    import uuid

    from chalice.test import Client

    import app
    from chalicelib.clock import clock
    from chalicelib.config import settings
    from chalicelib.local import issuer
    from chalicelib.local.resources import create_all

    create_all()
    cfg = settings()
    assert cfg.local_jwt_key_file

    def token(sub: str, role: str) -> str:
        assert cfg.local_jwt_key_file
        return issuer.mint(
            cfg.local_jwt_key_file,
            sub=sub,
            roles=[role],
            issuer=cfg.jwt_issuer,
            audience=cfg.jwt_audience,
            roles_claim=cfg.jwt_roles_claim,
            now=clock.now(),
        )

    with Client(app.app) as client:

        def post(path: str, body: dict[str, Any], bearer: str) -> Any:
            headers = {"Content-Type": "application/json", "Authorization": f"Bearer {bearer}"}
            headers["Idempotency-Key"] = f"key-{uuid.uuid4().hex}"
            r = client.http.request(method="POST", path=path, headers=headers, body=json.dumps(body))
            assert r.status_code < 300, r.body
            return json.loads(r.body)

        sku = {"attributes": {}, "price_fen": 990, "stock": 10}
        product = post("/v1/merchant/products", {"name": "冷启动", "skus": [sku]}, token("m-bench-cold", "merchant"))
        buyer = token("u-bench-cold", "consumer")
        address = {"name": "张三", "phone": "13800138000", "line1": "朝阳区建国路 1 号", "city": "北京"}
        items = [{"sku_id": product["skus"][0]["sku_id"], "quantity": 1}]
        order = post("/v1/checkout", {"payment_method": "alipay", "address": address, "items": items}, buyer)
    print(order["orders"][0]["order_id"], buyer)


@contextmanager
def _store_with_an_order(env: dict[str, str]) -> Iterator[tuple[dict[str, str], str, str]]:
    """A moto server on loopback with every table and one order (seeded by a subprocess):
    the environment pointing at it, the order's id and its buyer's token."""
    import logging

    from moto.server import ThreadedMotoServer

    from scripts.bench_http import _free_port

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # a line per request

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    keys = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_SESSION_TOKEN": "local"}
    env = {**env, **keys, "DYNAMODB_ENDPOINT": endpoint, "SQS_ENDPOINT": endpoint}
    try:
        seeded = subprocess.run(
            [sys.executable, "-c", "from scripts.bench import seed_order; seed_order()"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        order_id, token = seeded.stdout.split()[-2:]
        yield env, order_id, token
    finally:
        server.stop()


def _first_request(event: dict[str, Any]) -> str:
    """Import the app and answer one API Gateway event, as Lambda's first invocation does."""
    return (
        "import sys, time; t = time.perf_counter(); import app; from types import SimpleNamespace as N; "
        f"r = app.app({event!r}, N(aws_request_id='bench', function_name='paylater', "
        "memory_limit_in_mb=256, invoked_function_arn='arn:aws:lambda:cn-north-1:000000000000:function:paylater', "
        "function_version='1', log_group_name='g', log_stream_name='s')); "
        "assert r['statusCode'] == 200, r; "
        "print(time.perf_counter() - t, 'boto3' in sys.modules, len(sys.modules))"
    )


def _modules_per_router(env: dict[str, str]) -> list[str]:
    """Modules loaded by `import app` and one router, and for a router with signed-in routes
    what their first request loads before the handler runs: token verification
    (`chalicelib.auth`: PyJWT, which loads cryptography's x509) and the account check (`chalicelib.revocation`:
    PynamoDB, botocore). The handler's own services load more, and its first call the client."""
    import importlib

    from chalicelib.routes import ROUTES
    from chalicelib.web import Router

    counts: dict[str, int] = {}
    signed_in: set[str] = set()
    for where in dict.fromkeys(r.where.partition(".")[0] for r in ROUTES):
        module = importlib.import_module(f"chalicelib.api.{where}")
        routers = [v for v in vars(module).values() if isinstance(v, Router)]
        if any(spec.roles for router in routers for spec in router.routes):
            signed_in.add(where)
        extra = ", chalicelib.auth, chalicelib.revocation" if where in signed_in else ""
        code = f"import sys, app, chalicelib.api.{where}{extra}; print(len(sys.modules))"
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
        counts[where] = int(out.stdout.split()[-1])
    paths: dict[str, list[str]] = defaultdict(list)
    for r in ROUTES:
        paths[r.where.partition(".")[0]].append(f"{r.method} {r.path}")
    rows = [f"{'router':<14} modules after `import app`, the router (+ token and account check: signed-in routes)"]
    for where, n in sorted(counts.items(), key=lambda kv: kv[1]):
        shown = ", ".join(paths[where][:2]) + (f", … ({len(paths[where])} routes)" if len(paths[where]) > 2 else "")
        rows.append(f"{where:<14} {n:>5} {'+' if where in signed_in else ' '} {shown}")
    return rows


HEALTH = "app + GET /v1/health"
ORDER = "app + GET /v1/orders/{id}"


def bench_imports(runs: int) -> list[str]:
    import shutil
    import tempfile

    # The deployment zip ships every module's bytecode (scripts/infra.py, ship_bytecode): the
    # probes run with bytecode too, compiled by an untimed first run into a cache of their own
    # (a shell with PYTHONDONTWRITEBYTECODE had every probe compile our modules again).
    cache = tempfile.mkdtemp(prefix="bench-bytecode-")
    try:
        return _bench_imports(runs, cache)
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def _bench_imports(runs: int, cache: str) -> list[str]:
    from chalicelib.config import stage_environment

    env = {**os.environ, **stage_environment("local"), "PYTHONPATH": str(ROOT), "PYTHONPYCACHEPREFIX": cache}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    probe = (
        "import sys, time; t = time.perf_counter(); import {mod}; "
        "print(time.perf_counter() - t, 'boto3' in sys.modules, len(sys.modules))"
    )
    rows = [f"{'module':<26} {'import (in process)':>20} {'whole process':>15}  boto3 loaded  modules", "-" * 90]
    # The first request as Lambda delivers it: an API Gateway event straight to the handler
    # (chalice.test would import chalice's CLI and botocore, which a Lambda never does). The
    # order is read from a moto server on loopback, so its first DynamoDB call is in the figure.
    with _store_with_an_order(env) as (env, order_id, token):
        order = _event(f"/v1/orders/{order_id}", "/v1/orders/{order_id}", {"order_id": order_id}, token)
        probes = {
            "app": probe.format(mod="app"),
            HEALTH: _first_request(_HEALTH_EVENT),
            ORDER: _first_request(order),
            "boto3": probe.format(mod="boto3"),
        }
        medians: dict[str, float] = {}
        samples: dict[str, list[tuple[float, float, str]]] = {mod: [] for mod in probes}
        for code in probes.values():  # untimed: writes the bytecode the timed runs read
            subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, check=True)
        for _ in range(runs):
            for mod, code in probes.items():  # interleaved: a busy moment hits every probe alike
                start = time.perf_counter()
                out = (
                    subprocess.run(
                        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
                    )
                    .stdout.splitlines()[-1]
                    .split()
                )
                samples[mod].append((float(out[0]), time.perf_counter() - start, f"{out[1]:>12}  {out[2]:>7}"))
    for mod, runs_of in samples.items():
        inside = [r[0] for r in runs_of]
        medians[mod] = statistics.median(inside)
        whole = _median_ms([r[1] for r in runs_of])
        rows.append(f"{mod:<26} {_median_ms(inside):>20} {whole:>15}  {runs_of[-1][2]}")
    rows += ["", *_modules_per_router(env)]
    base = medians["boto3"]
    rows.append(
        f"import app / import boto3: {medians['app'] / base:.2f}; first request / import boto3: "
        f"GET /v1/health {medians[HEALTH] / base:.2f} (goal <= 1.25), "
        f"GET /v1/orders/{{id}} {medians[ORDER] / base:.2f} (goal <= 1.5)"
    )
    rows.append(
        f"(median of {runs} fresh processes each, interleaved, every module's bytecode compiled as the zip ships "
        "it; the first request is an API Gateway event handed to the Lambda handler, and loads its router, "
        "schemas and services; the order is read from a moto server on loopback)"
    )
    return rows


# --- DynamoDB calls per route -------------------------------------------------------------------


def _caller(spec: Any, case: Any) -> str:
    from tests.api.test_authorization_matrix import BAD_TOKENS, CALLERS, expectation

    if not spec.roles:
        return next(iter(BAD_TOKENS))  # "no token": a public route
    return next(who for who in CALLERS if expectation(spec, case, who) == "pass")


def bench_calls() -> list[str]:
    from tests.api.test_authorization_matrix import CASES, Case, Tokens, build_world, call, routes

    rows = [f"{'route':<58} {'status':>6} {'calls':>5}  by operation (tables)", "-" * 120]
    above: list[str] = []
    with world() as api:
        w = build_world(api)
        tokens = Tokens(api)
        stats_line = _stats_reads(api)  # first: it rolls up the closed days, as the hourly job has on a stage
        for spec in routes():
            case = CASES.get(spec.name, Case())
            who = _caller(spec, case)
            with recording() as calls:
                r = call(api, tokens, spec, case, w, who)
            ops: dict[str, set[str]] = defaultdict(set)
            counts: Counter[str] = Counter()
            for c in calls:
                counts[c.op] += 1
                ops[c.op].update(_tables_of(c))
            detail = ", ".join(f"{op} {n} ({'/'.join(sorted(ops[op]))})" for op, n in counts.most_common())
            over = _over_budget(spec, counts)
            if over:
                above.append(f"{spec.method} {spec.path} ({over})")
            flag = " ! " if over else "   "
            rows.append(f"{spec.method + ' ' + spec.path:<58} {r.status_code:>6} {len(calls):>5}{flag}{detail or '-'}")
        rows.append(stats_line)
    rows.append("(each route called once by its owner against a world built over the API; JWT checks make no calls)")
    rows.append(
        f"goal: <= {CALLS_PER_ROUTE} calls per route, a list page <= 1 Query, the data export exempt, "
        f"account closure <= {OWN_BUDGET['POST /v1/me/closure']} (it names every kind of open item); "
        + (f"{len(above)} above it (marked !): " + "; ".join(above) if above else "every route within it")
    )
    return rows


def _stats_reads(api: Any) -> str:
    """`GET /v1/risk/stats` over 1, 7 and 26 days, twice each, at the stage's shard count."""
    from chalicelib.config import settings
    from tests.api.test_authorization_matrix import RISK_OPERATOR

    rules, seen = settings().rules, []
    for days in (1, 7, 26):
        calls = []
        for _ in range(2):
            with recording() as made:
                r = api.get(f"/v1/risk/stats?days={days}", as_=RISK_OPERATOR, roles=["risk"])
            assert r.status_code == 200, r.json
            calls.append(len(made))
        seen.append(f"days={days}: {calls[0]}, then {calls[1]}")
    return (
        f"GET /v1/risk/stats at {rules.risk_stats_shards} shards (previous {rules.risk_stats_shards_previous}), "
        f"calls {'; '.join(seen)} (on a fresh stack the first read of a closed day sums its shards into one "
        "roll-up item; the hourly `roll_up_risk_stats` does it on a stage as each day closes; then a read is "
        "today's shards and one item a closed day: one BatchGet; the table above is measured after these reads)"
    )


# Every route's budget of DynamoDB calls; a list page (a `cursor` query) reads one Query a page.
CALLS_PER_ROUTE = 3
EXEMPT_FROM_CALL_BUDGET = frozenset({"GET /v1/me/data-export"})
# Routes with a budget of their own. Closure refused reads the user and its books (one
# BatchGet), its redemptions, orders, return requests and their refunds (no counter holds
# in-flight orders or pending card refunds), and stores the key's answer.
OWN_BUDGET = {"POST /v1/me/closure": 6}


def _over_budget(spec: Any, counts: Counter[str]) -> str | None:
    """Why a route's calls are above its budget (None: within it)."""
    if f"{spec.method} {spec.path}" in EXEMPT_FROM_CALL_BUDGET:
        return None
    total = sum(counts.values())
    if spec.query is not None and "cursor" in spec.query.model_fields:
        return f"{counts['Query']} queries for a page" if counts["Query"] > 1 else None
    budget = OWN_BUDGET.get(f"{spec.method} {spec.path}", CALLS_PER_ROUTE)
    return f"{total} calls" if total > budget else None


def _tables_of(call: Call) -> list[str]:
    p = call.params
    if "TableName" in p:
        return [table_of(p["TableName"])]
    if "RequestItems" in p:
        return [table_of(t) for t in p["RequestItems"]]
    if "TransactItems" in p:
        return sorted({table_of(next(iter(i.values()))["TableName"]) for i in p["TransactItems"]})
    return []


# --- sweeper -------------------------------------------------------------------------------------------


def bench_sweeper(orders: int, due_fraction: float, max_runs: int = 10, *, parts: bool = False) -> list[str]:
    from chalicelib import timers
    from chalicelib.clock import clock
    from chalicelib.config import settings
    from chalicelib.models.timers import Timer

    kind = timers.PAYMENT_DUE
    due = int(orders * due_fraction)
    with world():
        now = clock.now()
        rnd = random.Random(8)
        start = time.perf_counter()
        with Timer.batch_write() as batch:
            for i in range(orders):
                seconds = rnd.randint(1, 6 * 86400)
                at = now - timedelta(seconds=seconds) if i < due else now + timedelta(seconds=seconds)
                # Installments: one timer per part due, tagged with its part (collection drops a stale one).
                data = {"part": i % 12 + 1} if parts else None
                batch.save(timers.timer(kind, f"o_bench_{i:06d}", at, data))
        seeded = time.perf_counter() - start

        settled = 0

        def act(timer: Timer) -> bool:
            # The claim a real job makes (timers.take: delete if it still exists), sent as
            # a single conditional delete: moto copies whole tables for every transaction,
            # which at 100,000 timers measures the emulator, not us. Reads are unchanged.
            nonlocal settled
            timer.delete(condition=Timer.key.exists())
            settled += 1
            return True

        runs = 0
        with recording() as calls:
            start = time.perf_counter()
            # moto sorts a whole table per Query (~10 s each at 100,000 items), so the
            # full-size run stops after `max_runs`; items read per item due is the figure.
            while runs < max_runs:
                runs += 1
                if timers.sweep(kind, now, act)["complete"]:
                    break
            swept = time.perf_counter() - start
        queries = [c for c in calls if c.op == "Query"]
        scanned = sum(int(c.parsed.get("ScannedCount", 0)) for c in queries)
        returned = sum(int(c.parsed.get("Count", 0)) for c in queries)
        capacity = sum(float((c.parsed.get("ConsumedCapacity") or {}).get("CapacityUnits", 0)) for c in queries)
        rules = settings().rules
    return [
        f"timers seeded        {orders:>9,} ({kind}, {rules.timer_shards} shards; batch-written in {seeded:.1f} s)",
        f"due now              {due:>9,} ({due_fraction:.0%})",
        f"settled              {settled:>9,} in {runs} sweep runs"
        f" (sweep_max_items={rules.sweep_max_items}), {swept:.2f} s",
        f"Query calls          {len(queries):>9,}",
        f"items read           {scanned:>9,} (ScannedCount; returned {returned:,})",
        f"items read per item settled {scanned / max(settled, 1):>6.3f} (the not-yet-due are never read)",
        *([f"parts collected per second {settled / max(swept, 1e-9):>8.0f} (sweep claims only)"] if parts else []),
        f"read capacity        {capacity:>9.1f} RCU reported by the store"
        + ("" if capacity else " (moto reports none; DynamoDB: 0.5 RCU per 4 KB consistent page)"),
        "(each shard's query stops at key <= now; a run settles at most sweep_max_items, the next run the rest)",
    ]


# --- requests per second vs bare calls ----------------------------------------------------------


# A request mints ids (order, challenge, checkout, idempotency key...): long tokens that differ
# between two recordings of the same request. Nothing shorter is touched (a timer's bucket number).
MINTED = re.compile(r"[A-Za-z0-9_\-]{16,}")


def _minted(first: list[Call], second: list[Call]) -> list[str]:
    """The tokens of `first` that `second` does not contain: what each request mints afresh."""
    again = set(MINTED.findall(json.dumps([c.params for c in second])))
    tokens = {t for c in first for t in MINTED.findall(json.dumps(c.params)) if t not in again}
    return sorted(tokens, key=len, reverse=True)


def _replays(calls: list[Call], minted: list[str], n: int) -> list[list[tuple[str, dict[str, Any]]]]:
    """`n` copies of the recorded calls, exactly as sent (items, conditions, projections, return
    values, capacity), each with fresh values for the minted ids, so every write's conditions
    hold again and moto evaluates them as it does for the API's own request."""
    import uuid

    text = json.dumps([[c.op, c.params] for c in calls])
    out = []
    for _ in range(n):
        copy = text
        for token in minted:
            copy = copy.replace(token, token[:-12] + uuid.uuid4().hex[:12])
        out.append([(op, params) for op, params in json.loads(copy)])
    return out


def _sends(replay: list[tuple[str, dict[str, Any]]]) -> str:
    """What one bare replay sends: calls, transaction items and condition expressions."""
    ops = Counter(op for op, _ in replay)
    items = sum(len(p.get("TransactItems", ())) for _, p in replay)
    conditions = json.dumps(replay).count('"ConditionExpression"')
    return (
        ", ".join(f"{op} {k}" for op, k in ops.most_common())
        + (f" ({items} items)" if items else "")
        + f", {conditions} conditions"
    )


def _replay(conn: Any, replays: list[list[tuple[str, dict[str, Any]]]], i: int) -> None:
    for op, params in replays[i]:
        conn.dispatch(op, params)


def _side_by_side(n: int, api: Callable[[int], Any], bare: Callable[[int], Any]) -> tuple[float, float]:
    """CPU seconds of this thread in `api` and in `bare`, interleaved so both see the same table
    sizes (moto slows as tables grow); thread time, so other processes on a shared machine do not
    move the ratio. The garbage collector is paused (after a full collection): moto copies whole
    tables on every TransactWriteItems, thousands of collections scan those copies, and each
    lands on whichever side allocates when a threshold trips (it moved checkout 0.7-1.15 from
    run to run); a Lambda's heap holds no tables."""
    api_time = bare_time = 0.0
    gc.collect()
    gc.disable()
    try:
        for i in range(n):
            start = time.thread_time()
            api(i)
            middle = time.thread_time()
            bare(i)
            api_time += middle - start
            bare_time += time.thread_time() - middle
    finally:
        gc.enable()
    return api_time, bare_time


def bench_rps(n: int) -> list[str]:
    import app
    from chalicelib.db import connection
    from tests.api.test_authorization_matrix import CONSUMER_A, _checkout_body, build_world
    from tests.conftest import new_key

    head = f"{'operation':<34} {'via the API':>12} {'bare calls':>12} {'ratio':>6}  calls per request"
    rows = [head, "-" * 100]
    with world() as api:
        w = build_world(api)
        stocked = api.post(
            "/v1/merchant/products",
            {"name": "库存充足", "skus": [{"attributes": {}, "price_fen": 990, "stock": 1_000_000}]},
            as_="m-bench",
            roles=["merchant"],
        ).json
        body = _checkout_body(w)
        body["items"] = [{"sku_id": stocked["skus"][0]["sku_id"], "quantity": 1}]
        body["payment_method"] = "alipay"  # no credit limit in the way of n checkouts

        # One token, minted up front: signing it is the client's work, not the request's.
        token = api.token(CONSUMER_A)
        order_id = w["placed"]
        checkout_text = json.dumps(body)

        # API Gateway events handed to the Lambda handler, as Lambda does (chalice.test.Client's
        # local gateway would add its own routing and environment patching to our figure).
        def checkout(_: int) -> Any:
            headers = {"Content-Type": "application/json", "Idempotency-Key": new_key()}
            event = _event("/v1/checkout", "/v1/checkout", None, token, "POST", checkout_text, headers)
            r = app.app(event, _CONTEXT)
            assert r["statusCode"] == 201, r
            return r

        def read(_: int) -> Any:
            event = _event(f"/v1/orders/{order_id}", "/v1/orders/{order_id}", {"order_id": order_id}, token)
            r = app.app(event, _CONTEXT)
            assert r["statusCode"] == 200, r
            return r

        conn = connection()
        for label, fn in (("POST /v1/checkout", checkout), ("GET /v1/orders/{order_id}", read)):
            fn(0)  # warm caches (keys, settings, connections)
            with recording() as calls:
                fn(0)
            with recording() as again:
                fn(0)
            minted = _minted(calls, again)
            replays = _replays(calls, minted, n + 1)
            sent = _sends([(c.op, c.params) for c in calls])
            assert _sends(replays[0]) == sent, (sent, replays[0])  # like for like
            for op, params in replays[n]:  # the replay itself must work before it is timed
                conn.dispatch(op, params)
            api_time, bare_time = _side_by_side(n, fn, partial(_replay, conn, replays))
            api_rate, bare_rate = n / api_time, n / bare_time
            rows.append(
                f"{label:<34} {api_rate:>8.0f} r/s {bare_rate:>8.0f} r/s {api_rate / bare_rate:>6.2f}  "
                + f"both send {sent}; bare with {len(minted)} minted ids fresh each time"
            )
    rows.append(
        f"({n} requests each, API Gateway events to the Lambda handler in one process (goal: ratio >= 0.9), "
        "per CPU-second of this thread; "
        "'bare' replays the request's recorded DynamoDB calls through PynamoDB's connection, as sent "
        "(items, conditions, projections, return values), with fresh values for the ids a request "
        "mints so every condition holds again; the collector paused while timed; both against "
        "in-process moto, so the store's own latency is not in either figure; moto copies "
        "whole tables on every TransactWriteItems, which dominates both checkout figures)"
    )
    return rows


# --- capacity simulation -------------------------------------------------------------------------------


def _id_number(i: int) -> str:
    from chalicelib.services.validators import id_check_char

    first17 = f"11010519900307{i:03d}"
    return first17 + id_check_char(first17)


def _item_kb(item: dict[str, Any]) -> int:
    """Write units of one item: 1 per started KB (attribute names + values, approximated by JSON)."""
    return max(1, math.ceil(len(json.dumps(item, ensure_ascii=False).encode()) / 1024))


@dataclass
class Write:
    table: str
    key: str  # the base table's partition key value
    item: dict[str, Any]  # the whole item as written (Put) or the key (Update/Delete)
    wcu: int
    op: str
    touched: set[str]  # attribute names an update sets (for KEYS_ONLY indexes)


def _writes(calls: list[Call], schemas: dict[str, Any]) -> list[Write]:
    out: list[Write] = []

    def add(table_name: str, kind: str, body: dict[str, Any], transactional: bool) -> None:
        table = table_of(table_name)
        pk = schemas[table]["pk"]
        item = body.get("Item") or body.get("Key") or {}
        names = set((body.get("ExpressionAttributeNames") or {}).values())
        wcu = _item_kb(item) * (2 if transactional else 1)
        out.append(Write(table, _value(item.get(pk)), item, wcu, kind, names))

    for c in calls:
        p = c.params
        if c.op in ("PutItem", "UpdateItem", "DeleteItem"):
            add(p["TableName"], c.op, p, False)
        elif c.op == "BatchWriteItem":
            for table_name, requests in p["RequestItems"].items():
                for req in requests:
                    ((kind, body),) = req.items()
                    add(table_name, "Put" if kind == "PutRequest" else "Delete", body, False)
        elif c.op == "TransactWriteItems":
            for item in p["TransactItems"]:
                ((kind, body),) = item.items()
                add(body["TableName"], kind, body, True)
    return out


def _value(attr: Any) -> str:
    if not isinstance(attr, dict) or not attr:
        return "?"
    return str(next(iter(attr.values())))


def _schemas() -> dict[str, Any]:
    """Partition keys and GSIs of every table, from the store's own description."""
    from chalicelib.db import connection
    from chalicelib.models.registry import all_models

    out: dict[str, Any] = {}
    client = connection().client
    for model in all_models():
        desc = client.describe_table(TableName=model.Meta.table_name)["Table"]
        pk = next(k["AttributeName"] for k in desc["KeySchema"] if k["KeyType"] == "HASH")
        indexes = {
            g["IndexName"]: {
                "pk": next(k["AttributeName"] for k in g["KeySchema"] if k["KeyType"] == "HASH"),
                "keys": {k["AttributeName"] for k in g["KeySchema"]},
                "projection": g["Projection"]["ProjectionType"],
            }
            for g in desc.get("GlobalSecondaryIndexes", [])
        }
        out[table_of(desc["TableName"])] = {
            "pk": pk,
            "key": [k["AttributeName"] for k in desc["KeySchema"]],
            "gsi": indexes,
        }
    return out


def _current(table: str, key_names: list[str], item: dict[str, Any]) -> dict[str, Any]:
    from chalicelib.config import settings
    from chalicelib.db import connection

    key = {k: item[k] for k in key_names if k in item}
    got = connection().client.get_item(TableName=settings().table(table), Key=key, ConsistentRead=True)
    return dict(got.get("Item") or item)


SHARDED = re.compile(r"^(.*)#(\d{2,})$")
SHARDED_TABLES = (
    "timers",
    "entries",
    "entries.by_day",
    "entries.by_hour",
    "orders.by_merchant_key",
    "risk-counters",
    "webhook-events",
)
MERCHANT_SHARDS = 16


def _shard_count(table: str, logical: str) -> int:
    from chalicelib import sharding
    from chalicelib.config import settings
    from chalicelib.services.risk import signals

    rules = settings().rules
    if table == "timers":
        return rules.timer_shards
    if table == "risk-counters" and logical.startswith("stats#"):
        return rules.risk_stats_shards
    if table == "risk-counters":  # a merchant's velocity counter: "merchant#<hash>"
        merchants = [FLASH_MERCHANT, *(f"m-bench-{m}" for m in range(10))]
        by_hash = {f"merchant#{signals.value_hash('merchant', m)[:32]}": m for m in merchants}
        return sharding.counts_for(rules.merchant_order_shards, by_hash.get(logical, ""))
    if table in ("orders.by_merchant_key", "webhook-events"):
        return sharding.counts_for(rules.merchant_order_shards, logical)
    return rules.ledger_shards


SKU_SHARD = re.compile(r"^(.+)#(\d+)$")  # a SKU's stock shard k ≥ 1 (shard 0 is the SKU item)


def _per_shard(
    table: str, keys: dict[str, list[Any]], sku_shards: dict[str, int]
) -> tuple[dict[str, list[Any]], dict[str, int]]:
    """Shards of one logical key folded into it, its load spread over its shard count
    (a SKU's stock shards too: the SKU item and "<sku_id>#<k>")."""
    if table not in (*SHARDED_TABLES, "skus"):
        return keys, {}
    out: dict[str, list[Any]] = {}
    spread: dict[str, int] = {}
    for key, (ops, units, touching) in keys.items():
        m = (SKU_SHARD if table == "skus" else SHARDED).match(key)
        logical = m.group(1) if m else key
        count = sku_shards.get(logical, 1) if table == "skus" else _shard_count(table, logical) if m else 1
        if count > 1:
            spread[logical] = count
        folded = out.setdefault(logical, [0, 0, set()])
        folded[0] += ops
        folded[1] += units
        folded[2] |= touching
    for logical, shards in spread.items():
        folded = out[logical]
        folded[0], folded[1] = folded[0] / shards, folded[1] / shards
    return out, spread


@dataclass
class Read:
    table: str  # "table" or "table.index"
    key: str  # the partition key value read
    rcu: float


def _rcu(size: int, consistent: bool, transactional: bool = False) -> float:
    """Read units: 1 per started 4 KB strongly consistent, half that eventually, twice in a transaction."""
    units = max(1, math.ceil(size / 4096))
    return units * (2.0 if transactional else 1.0 if consistent else 0.5)


def _size(item: dict[str, Any] | None) -> int:
    return len(json.dumps(item or {}, ensure_ascii=False).encode())


def _reads(calls: list[Call], schemas: dict[str, Any]) -> list[Read]:
    """Every item and query page a purchase reads, with its partition key and read units."""
    out: list[Read] = []
    for c in calls:
        p, r = c.params, c.parsed
        if c.op == "GetItem":
            t = table_of(p["TableName"])
            key = _value(p["Key"].get(schemas[t]["pk"]))
            out.append(Read(t, key, _rcu(_size(r.get("Item")), bool(p.get("ConsistentRead")))))
        elif c.op == "BatchGetItem":
            for name, req in p["RequestItems"].items():
                t = table_of(name)
                pk = schemas[t]["pk"]
                got = {_value(i.get(pk)): i for i in (r.get("Responses") or {}).get(name, [])}
                for key in req["Keys"]:
                    k = _value(key.get(pk))
                    out.append(Read(t, k, _rcu(_size(got.get(k)), bool(req.get("ConsistentRead")))))
        elif c.op == "TransactGetItems":
            for got, item in zip(r.get("Responses") or [], p["TransactItems"], strict=False):
                body = item["Get"]
                t = table_of(body["TableName"])
                key = _value(body["Key"].get(schemas[t]["pk"]))
                out.append(Read(t, key, _rcu(_size(got.get("Item")), True, transactional=True)))
        elif c.op == "Query":
            t, index = table_of(p["TableName"]), p.get("IndexName")
            pk = schemas[t]["gsi"][index]["pk"] if index else schemas[t]["pk"]
            items = r.get("Items") or []
            values = list((p.get("ExpressionAttributeValues") or {}).values())
            key = _value(items[0].get(pk)) if items else _value(values[0] if values else None)
            size = sum(_size(i) for i in items)
            out.append(Read(f"{t}.{index}" if index else t, key, _rcu(size, bool(p.get("ConsistentRead")))))
    return out


@dataclass
class Sample:
    """N purchases recorded: each one's writes and reads."""

    writes: list[list[Write]] = field(default_factory=list)
    reads: list[list[Read]] = field(default_factory=list)
    failures: int = 0


def _purchase(api: Any, user: str, sku_id: str, schemas: dict[str, Any], sample: Sample) -> dict[str, Any] | None:
    """One 先用后付 purchase (checkout + confirmation) of one unit, its calls recorded; each
    buyer ships to an address and phone of their own (risk counts per address)."""
    from tests.conftest import new_key
    from tests.support.shopping import ADDRESS, PASSWORD

    n = int(re.sub(r"\D", "", user) or 0)
    address = {**ADDRESS, "phone": f"139{n:08d}", "line1": f"朝阳区建国路 {n} 号"}
    body = {"items": [{"sku_id": sku_id, "quantity": 1}], "payment_method": "bnpl", "address": address}
    with recording() as calls:
        r = api.post("/v1/checkout", body, as_=user, idem=new_key())
        c = None
        if r.status_code == 201:
            order = r.json["orders"][0]
            c = api.post(
                f"/v1/orders/{order['order_id']}/confirmation",
                {"challenge_id": order["challenge"]["challenge_id"], "password": PASSWORD},
                as_=user,
                idem=new_key(),
            )
    sample.failures += r.status_code != 201 or c is None or c.status_code != 200
    sample.writes.append(_writes(calls, schemas))
    sample.reads.append(_reads(calls, schemas))
    return dict(r.json["orders"][0]) if r.status_code == 201 else None


def _write_stats(sample: Sample, schemas: dict[str, Any]) -> dict[str, dict[str, list[Any]]]:
    """index name -> partition key -> (writes, wcu, purchases touching it), GSIs included."""
    stats: dict[str, dict[str, list[Any]]] = defaultdict(lambda: defaultdict(lambda: [0, 0, set()]))
    for i, writes in enumerate(sample.writes):
        for wr in writes:
            s = stats[wr.table][wr.key]
            s[0] += 1
            s[1] += wr.wcu
            s[2].add(i)
            schema = schemas[wr.table]
            for name, gsi in schema["gsi"].items():
                current = _current(wr.table, schema["key"], wr.item) if wr.op != "Put" else wr.item
                if gsi["pk"] not in current:
                    continue  # sparse index: this item is not in it
                if gsi["projection"] != "ALL" and wr.op not in ("Put", "Delete") and not (gsi["keys"] & wr.touched):
                    continue  # the update changed nothing this index holds
                g = stats[f"{wr.table}.{name}"][_value(current[gsi["pk"]])]
                g[0] += 1
                g[1] += _item_kb(current)  # index writes are not transactional
                g[2].add(i)
    return stats


def _read_stats(sample: Sample) -> dict[str, dict[str, list[Any]]]:
    stats: dict[str, dict[str, list[Any]]] = defaultdict(lambda: defaultdict(lambda: [0, 0.0, set()]))
    for i, reads in enumerate(sample.reads):
        for rd in reads:
            s = stats[rd.table][rd.key]
            s[0] += 1
            s[1] += rd.rcu
            s[2].add(i)
    return stats


def _hot_keys(
    stats: dict[str, dict[str, list[Any]]],
    names: list[str],
    n: int,
    sku_shards: dict[str, int],
    *,
    limit: int,
    unit: str,
    what: str,
) -> tuple[list[str], int]:
    """The hottest partition key of every table and index at TARGET_RATE, and how many are hot."""
    rows = [
        f"{'table / index':<28} {'hottest partition key':<44} {'share':>6} {what + '/s':>9} {unit + '/s':>8}  verdict",
        "-" * 120,
    ]
    hot = 0
    for name in names:
        keys = stats.get(name)
        if not keys:
            rows.append(f"{name:<28} {f'(no {what} in a purchase)':<44}")
            continue
        keys, spread = _per_shard(name, keys, sku_shards)
        key, (ops, units, touching) = max(keys.items(), key=lambda kv: (kv[1][1], kv[1][0]))
        share = len(touching) / n
        per_sec, units_sec = ops / n * TARGET_RATE, units / n * TARGET_RATE
        if key in spread:
            key = f"{key}#<{spread[key]} shards> (mean)"
        if len(touching) == 1 and n > 1:
            verdict = f"per-purchase key: its rate is one caller's, not {TARGET_RATE:,}/s × share"
        elif units_sec > limit:
            hot += 1
            saturates = limit / (units / len(touching)) / share
            verdict = f"HOT: over the limit (saturates at ~{saturates:,.0f} purchases/s)"
        else:
            verdict = "ok"
        rows.append(f"{name:<28} {key[:44]:<44} {share:>6.1%} {per_sec:>9,.0f} {units_sec:>8,.0f}  {verdict}")
    return rows, hot


def _activate(api: Any, users: list[str]) -> None:
    from chalicelib.config import settings
    from tests.support.shopping import PASSWORD

    for i, user in enumerate(users):
        api.post("/v1/me/identity", {"real_name": "张三", "id_number": _id_number(i)}, as_=user)
        api.post("/v1/me/bank-cards", {"card_number": "6222020200112233446"}, as_=user)
        api.put("/v1/me/payment-password", {"password": PASSWORD}, as_=user)
        r = api.post("/v1/bnpl/activation", {"agreement_version": settings().rules.agreement_version}, as_=user)
        assert r.status_code == 201, r.json


FLASH_MERCHANT = "m-flash"
FLASH_MERCHANT_SHARDS = 64  # MERCHANT_ORDER_SHARDS for the flash sale's merchant (10,000 orders/s)
FLASH_STOCK_SHARDS = 32  # the flash SKU's stock_shards: ~310 purchases/s a shard
FLASH_STOCK = 1_000_000
CONTAINERS = 1_000  # warm Lambda containers serving 10,000 purchases/s (2 requests each, ~50 ms)
PARTITION_RCU_LIMIT = 3000  # DynamoDB: per partition, per second


def _refill(ttl: float) -> int:
    """Purchases between two reads of one cached item: CONTAINERS warm containers, each
    reading it once per `ttl`, at TARGET_RATE purchases/s."""
    return max(1, int(TARGET_RATE * ttl / CONTAINERS))


def bench_capacity(n: int) -> list[str]:
    from chalicelib.config import settings
    from chalicelib.services.risk import signals

    merchants, products_each = 10, 5
    with world() as api:
        schemas = _schemas()
        skus: list[str] = []
        for m in range(merchants):
            for p in range(products_each):
                body = {
                    "name": f"商品 {m}-{p}",
                    "skus": [
                        {"attributes": {"颜色": c}, "price_fen": 1990 + 100 * p, "stock": 100_000} for c in ("黑", "白")
                    ],
                }
                r = api.post("/v1/merchant/products", body, as_=f"m-bench-{m}", roles=["merchant"])
                skus += [s["sku_id"] for s in r.json["skus"]]
        users = [f"u-bench-{i:04d}" for i in range(n)]
        _activate(api, users)
        rnd = random.Random(10_000)
        sample = Sample()
        for i, user in enumerate(users):
            if i % _refill(settings().rules.risk_merchant_cache_seconds) == 0:
                signals.forget_merchants()  # another container's first decision
            _purchase(api, user, rnd.choice(skus), schemas, sample)
        writes, reads = _write_stats(sample, schemas), _read_stats(sample)
        flash = _flash_sale(api, users, schemas)

    names = sorted({*schemas, *(f"{t}.{g}" for t, s in schemas.items() for g in s["gsi"])})
    write_rows, _ = _hot_keys(writes, names, n, {}, limit=PARTITION_WCU_LIMIT, unit="WCU", what="writes")
    read_rows, _ = _hot_keys(reads, names, n, {}, limit=PARTITION_RCU_LIMIT, unit="RCU", what="reads")
    rules = settings().rules
    return [
        f"{n} purchases (checkout + confirmation, 先用后付) by {n} users"
        f" over {len(skus)} SKUs of {merchants} merchants; failures: {sample.failures}",
        f"scaled to {TARGET_RATE:,} purchases/s; limit {PARTITION_WCU_LIMIT} WCU/s per partition "
        "(transactional writes cost 2 WCU per KB)",
        *write_rows,
        f"(sharded keys: timers {rules.timer_shards}, platform ledger, by_day and by_hour {rules.ledger_shards}, "
        f"order index of the merchants here {MERCHANT_SHARDS} (MERCHANT_ORDER_SHARDS: at 10,000 purchases/s each "
        "of these merchants sells ~1,000/s, a very large merchant); a sharded key's rate is its logical key's "
        "over its shard count, the mean a uniform hash gives at this rate; steady state, *_SHARDS_PREVIOUS = current)",
        "(share = purchases in the sample writing that key; a key every purchase shares is the one that caps "
        "throughput. A SKU whose stock is one item hits its limit at ~1000 / (its WCU per purchase) purchases/s: "
        "a flash sale raises its stock_shards, below)",
        "",
        f"reads of the same purchases; limit {PARTITION_RCU_LIMIT} RCU/s per partition "
        "(1 RCU per 4 KB strongly consistent, 0.5 eventually)",
        *read_rows,
        "",
        *flash,
    ]


def _flash_sale(api: Any, users: list[str], schemas: dict[str, Any]) -> list[str]:
    """10,000 purchases/s of one SKU by 10,000 buyers of one merchant: the sample's buyers
    each buy one unit of a SKU split over FLASH_STOCK_SHARDS; each process's cache of the
    SKU is refilled as CONTAINERS containers would (every TARGET_RATE × TTL / CONTAINERS
    purchases); then the exact spread of 10,000 buyers over the shards, and stock conserved."""
    from collections import Counter

    from chalicelib.config import settings
    from chalicelib.models.catalog import StockShard
    from chalicelib.services import stock
    from chalicelib.services.risk import signals

    n = len(users)
    body = {
        "name": "直播爆款",
        "skus": [
            {
                "attributes": {"颜色": "红"},
                "price_fen": 990,
                "stock": FLASH_STOCK,
                "stock_shards": FLASH_STOCK_SHARDS,
            }
        ],
    }
    r = api.post("/v1/merchant/products", body, as_=FLASH_MERCHANT, roles=["merchant"])
    assert r.status_code == 201, r.json
    sku_id = r.json["skus"][0]["sku_id"]
    refill = _refill(stock.HEAD_CACHE_SECONDS)
    merchant_refill = _refill(settings().rules.risk_merchant_cache_seconds)
    ttl, stock.HEAD_CACHE_SECONDS = stock.HEAD_CACHE_SECONDS, 10**9  # refills are counted, not timed
    stock.forget()
    sample = Sample()
    sold = 0
    try:
        for i, user in enumerate(users):
            if i % refill == 0:
                stock.forget()  # another container's first purchase of the SKU
            if i % merchant_refill == 0:
                signals.forget_merchants()  # and its first decision for the merchant
            sold += _purchase(api, user, sku_id, schemas, sample) is not None
    finally:
        stock.HEAD_CACHE_SECONDS = ttl
    left = sum(
        int(StockShard.get(stock.shard_key(sku_id, k), consistent_read=True).stock) for k in range(FLASH_STOCK_SHARDS)
    )
    writes, reads = _write_stats(sample, schemas), _read_stats(sample)
    names = sorted({*schemas, *(f"{t}.{g}" for t, s in schemas.items() for g in s["gsi"])})
    shards = {sku_id: FLASH_STOCK_SHARDS}
    write_rows, hot_w = _hot_keys(writes, names, n, shards, limit=PARTITION_WCU_LIMIT, unit="WCU", what="writes")
    read_rows, hot_r = _hot_keys(reads, names, n, shards, limit=PARTITION_RCU_LIMIT, unit="RCU", what="reads")

    # The exact spread: 10,000 buyers, one purchase each per second, over the shards.
    per_shard = Counter(stock.spread_index(f"u-bench-{i:04d}", sku_id, FLASH_STOCK_SHARDS) for i in range(TARGET_RATE))
    busiest = max(per_shard.values())
    take = [w for ws in sample.writes for w in ws if w.table == "skus"]
    wcu_each = sum(w.wcu for w in take) / max(1, len(take))
    shard_reads = [rd for rs in sample.reads for rd in rs if rd.table == "skus"]
    rcu_each = max((rd.rcu for rd in shard_reads), default=1.0)
    head_reads = sum(1 for rd in shard_reads if "#" not in rd.key)
    # Its buyers' takes and reads, plus every container's refill (the SKU item, then every shard).
    busiest_wcu, busiest_rcu = busiest * wcu_each, (busiest + 2 * TARGET_RATE / refill) * rcu_each
    verdict = "ok" if busiest_wcu <= PARTITION_WCU_LIMIT and busiest_rcu <= PARTITION_RCU_LIMIT else "HOT"
    hot_w += busiest_wcu > PARTITION_WCU_LIMIT
    hot_r += busiest_rcu > PARTITION_RCU_LIMIT
    return [
        f"flash sale: {n} purchases of ONE SKU (stock_shards {FLASH_STOCK_SHARDS}) by {n} buyers of ONE merchant "
        f"(order index shards {FLASH_MERCHANT_SHARDS}), scaled to {TARGET_RATE:,} purchases/s; "
        f"failures: {sample.failures}",
        f"(the SKU item cached {stock.HEAD_CACHE_SECONDS:.0f} s a process, {CONTAINERS:,} containers: refilled "
        f"every {refill} purchases here, {head_reads} reads of the SKU item in {n} purchases)",
        *write_rows,
        *read_rows,
        f"SKU shards, exact: {TARGET_RATE:,} buyers hash to {min(per_shard.values())}..{busiest} a shard "
        f"(mean {TARGET_RATE / FLASH_STOCK_SHARDS:.0f}); the busiest at {busiest}/s: {busiest_wcu:,.0f} WCU/s "
        f"({wcu_each:.1f} a take), {busiest_rcu:,.0f} RCU/s  {verdict}",
        f"hot keys: writes {hot_w}, reads {hot_r}",
        f"stock conserved: {FLASH_STOCK:,} = {left:,} left + {sold:,} sold"
        f"  {'✓' if left + sold == FLASH_STOCK else '✗ NOT CONSERVED'}",
    ]


# --- risk: a decision's own cost ------------------------------------------------------------------


def _percentiles(ms: list[float]) -> str:
    ordered = sorted(ms)
    p99 = ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)]
    return f"median {statistics.median(ordered):7.3f} ms   p99 {p99:7.3f} ms"


def bench_risk(n: int) -> list[str]:
    """`risk.assess` on one confirmation, `n` times: its BatchGet (velocity counters of 5
    dimensions x 7 days, lists, profile, credit) and the rules; then the rules alone."""
    from chalicelib.clock import clock
    from chalicelib.models.orders import Order
    from chalicelib.models.users import User
    from chalicelib.services.risk import decide, rules
    from tests.conftest import ADULT_ID, new_key
    from tests.support.shopping import ADDRESS, PASSWORD

    with world() as api:
        uid = "u-bench-risk"
        api.post("/v1/me/identity", {"real_name": "张三", "id_number": ADULT_ID}, as_=uid)
        api.post("/v1/me/bank-cards", {"card_number": "6222020200112233446"}, as_=uid)
        api.put("/v1/me/payment-password", {"password": PASSWORD}, as_=uid)
        api.post("/v1/bnpl/activation", {"agreement_version": _agreement()}, as_=uid)
        body = {"name": "茶", "skus": [{"attributes": {"规格": "250g"}, "price_fen": 2990, "stock": 1000}]}
        sku = api.post("/v1/merchant/products", body, as_="m-bench-risk", roles=["merchant"]).json["skus"][0]["sku_id"]
        placed = []
        for _ in range(3):  # some history: counters and a profile to read
            co = api.post(
                "/v1/checkout",
                {"items": [{"sku_id": sku, "quantity": 1}], "payment_method": "bnpl", "address": ADDRESS},
                as_=uid,
                idem=new_key(),
            ).json["orders"][0]
            placed.append(co)
        for co in placed[:2]:
            confirmation = {"challenge_id": co["challenge"]["challenge_id"], "password": PASSWORD}
            api.post(f"/v1/orders/{co['order_id']}/confirmation", confirmation, as_=uid, idem=new_key())
        order, user = Order.get(placed[2]["order_id"]), User.get(uid)
        with recording() as calls:
            decide.assess(order, user, device_id="bench-phone", now=clock.now())
        timed = [decide.assess(order, user, device_id="bench-phone", now=clock.now()).elapsed_ms for _ in range(n)]
        inputs = decide.assess(order, user, device_id="bench-phone", now=clock.now()).inputs
        rule_set = rules.current()
        alone = []
        for _ in range(n):
            start = time.perf_counter()
            rule_set.evaluate(inputs)
            alone.append((time.perf_counter() - start) * 1000)
        confirmation = {"challenge_id": placed[2]["challenge"]["challenge_id"], "password": PASSWORD}
        with recording() as confirm_calls:
            api.post(f"/v1/orders/{placed[2]['order_id']}/confirmation", confirmation, as_=uid, idem=new_key())
    ops = Counter(c.op for c in confirm_calls)
    own = dict(Counter(c.op for c in calls))
    return [
        f"decision (1 BatchGet under moto + rules)   {_percentiles(timed)}   calls: {own}",
        f"rules alone ({len(rule_set.rules)} rules, version {rule_set.version})   {_percentiles(alone)}",
        f"a 先用后付 confirmation: {sum(ops.values())} DynamoDB calls {dict(ops)}",
    ]


def _agreement() -> str:
    from chalicelib.config import settings

    return settings().rules.agreement_version


# --- main ---------------------------------------------------------------------------------------------


def run(sections: list[str], quick: bool = False) -> str:
    _env()
    sizes = {
        "runs": 2 if quick else 7,
        "orders": 2_000 if quick else 100_000,
        "rps": 20 if quick else 300,
        "capacity": 8 if quick else 200,
        "clients": 2 if quick else 8,
        "seconds": 10 if quick else 30,
        "purchases": 3 if quick else 200,
        "decisions": 20 if quick else 1_000,
        "webhooks": 5 if quick else 200,
    }
    out: list[str] = []
    titles = {
        "imports": "import time: app vs boto3",
        "calls": "DynamoDB calls per route",
        "sweeper": f"sweeper: items read per closed window ({sizes['orders']:,} orders, 1 % due)",
        "parts": f"installments: reads per part collected and parts/s ({sizes['orders']:,} parts due)",
        "rps": "in-process requests/s vs the bare DynamoDB calls they make",
        "capacity": f"capacity simulation: {TARGET_RATE:,} purchases/s",
        "http": "the purchase path over HTTP, concurrent clients, against the local stack",
        "flash": "a flash sale over HTTP: concurrent clients race for the last units of one sharded SKU",
        "risk": f"risk decision at confirmation: {sizes['decisions']:,} decisions in process",
        "webhooks": "webhooks: the purchase path's calls with events, the delivery worker's throughput",
    }
    for name in sections:
        start = time.perf_counter()
        with open(os.devnull, "w") as quiet, redirect_stdout(quiet):  # EMF metric lines
            rows = _section(name, sizes)
        out += ["", f"== {titles[name]}  ({time.perf_counter() - start:.1f} s)", *rows]
    return "\n".join(out)


def _section(name: str, sizes: dict[str, int]) -> list[str]:
    if name == "imports":
        return bench_imports(sizes["runs"])
    if name == "calls":
        return bench_calls()
    if name == "sweeper":
        return bench_sweeper(sizes["orders"], 0.01, max_runs=1 if sizes["orders"] > 20_000 else 10)
    if name == "parts":
        return bench_sweeper(sizes["orders"], 1.0, max_runs=1 if sizes["orders"] > 20_000 else 10, parts=True)
    if name == "rps":
        return bench_rps(sizes["rps"])
    if name == "risk":
        return bench_risk(sizes["decisions"])
    if name == "http":
        from scripts.bench_http import bench_http

        return bench_http(sizes["clients"], sizes["seconds"], sizes["purchases"])
    if name == "flash":
        from scripts.bench_http import bench_http_flash

        return bench_http_flash(sizes["clients"])
    if name == "webhooks":
        from scripts.bench_webhooks import bench_webhooks

        return bench_webhooks(sizes["webhooks"])
    return bench_capacity(sizes["capacity"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke test, not a measurement)")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated subset of {SECTIONS}")
    args = parser.parse_args(argv)
    sections = [s for s in args.only.split(",") if s]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {sorted(unknown)}")
    sys.path.insert(0, str(ROOT))
    _steady_state_shards()
    print(run(sections, quick=args.quick))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
