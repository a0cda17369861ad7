"""`make fuzz`: schemathesis against the OpenAPI document the local stack serves.

Starts the whole local stack (moto server + `chalice local`) in a subprocess on free ports,
builds a little world over HTTP (an activated consumer, a merchant's product, orders in
several states, a return request; and the same for a second consumer buying from a second
merchant), mints a token per role from `/v1/dev/tokens`, and runs
`schemathesis run` with `scripts/fuzz_hooks.py`, which puts the right role's token on each
operation (from the document's `x-roles`) and often swaps generated path ids for real ones
so the fuzzer reaches past the 404s, or for the second consumer's and merchant's ids (the
`another_users_object_is_a_404` check: with the first ones' tokens each is a 404, never a
2xx, a 409 or a 5xx). Checks: no 5xx, status codes, content types, headers and bodies as
documented, schema-invalid input rejected, schema-valid input not refused as malformed,
and no route reachable without its token.

Not fuzzed, and why:
- `/v1/dev/*`: local-only tools, absent from every deployed stage; fuzzing `POST
  /v1/dev/clock` would also move the service clock by up to 400 days and expire the tokens.
- the `unsupported_method` / `allow_header_conformance` checks: undeclared methods are
  answered by the web server in front of the app, not by it — `chalice local` says 405
  (or 501 for methods it has no handler for at all) without an `Allow` header, API
  Gateway says 403/405. Neither is our code or our contract.

Usage: python -m scripts.fuzz [--max-examples N] [--max-time S] [--seed N] [--phases P,Q] [-- extra st args]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HOOKS = ROOT / "scripts" / "fuzz_hooks.py"
CONFIG = ROOT / "scripts" / "schemathesis.toml"
STATE_ENV = "PAYLATER_FUZZ_STATE"
EXCLUDED_CHECKS = ("unsupported_method", "allow_header_conformance")
# A resident ID number and a card number with valid check digits (born 1990; Luhn).
ID_NUMBER = "110105199003070017"
CARD_NUMBER = "6222020200112233446"
PASSWORD = "135790"
ADDRESS = {"name": "张三", "phone": "13800138000", "line1": "朝阳区建国路 1 号", "city": "北京"}
ADDRESS_B = {"name": "李四", "phone": "13900139000", "line1": "浦东新区世纪大道 100 号", "city": "上海"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Http:
    """A tiny JSON client (urllib: nothing beyond the standard library in the driver)."""

    def __init__(self, base: str) -> None:
        self.base = base

    def call(self, method: str, path: str, body: Any = None, token: str | None = None, idem: bool = False) -> Any:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if idem:
            headers["Idempotency-Key"] = f"fuzz-{uuid.uuid4().hex}"
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as err:
            raise RuntimeError(f"{method} {path} -> {err.code}: {err.read()[:300]!r}") from err
        return json.loads(raw) if raw else None


@contextmanager
def local_stack(port: int | None = None, aws_port: int | None = None) -> Iterator[str]:
    """The local stack in a subprocess; yields its base URL and stops it afterwards."""
    port, aws_port = port or free_port(), aws_port or free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "LOCAL_AWS_PORT": str(aws_port),
        "LOCAL_SCHEDULE_SECONDS": "5",
        "PYTHONPATH": str(ROOT),
    }
    log = tempfile.NamedTemporaryFile(prefix="paylater-stack-", suffix=".log", delete=False)
    proc = subprocess.Popen(
        [sys.executable, "-m", "chalicelib.local.stack"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the local stack exited ({proc.returncode}); see {log.name}")
            try:
                with urllib.request.urlopen(base + "/v1/health", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the local stack did not answer in 90 s; see {log.name}") from None
                time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


class World:
    """Resources one consumer and one merchant build through the API, like the app would."""

    def __init__(self, http: Http, consumer: str, merchant: str, address: dict[str, str]) -> None:
        self.http, self.c, self.m, self.ship_to = http, consumer, merchant, address

    def activate(self, id_number: str, card_number: str) -> str:
        """Verified, a card bound, a payment password, 先用后付 activated: the card's id."""
        http, c = self.http, self.c
        http.call("POST", "/v1/me/identity", {"real_name": "张三", "id_number": id_number}, c)
        card = http.call("POST", "/v1/me/bank-cards", {"card_number": card_number}, c)
        http.call("PUT", "/v1/me/payment-password", {"password": PASSWORD}, c)
        agreement = http.call("GET", "/v1/bnpl/agreement", token=c)["version"]
        http.call("POST", "/v1/bnpl/activation", {"agreement_version": agreement}, c)
        return str(card["card_id"])

    def product(self, name: str) -> dict[str, Any]:
        skus = [
            {"attributes": {"颜色": "黑色"}, "price_fen": 990, "stock": 1000},
            {"attributes": {"颜色": "粉色"}, "price_fen": 1290, "stock": 1000},
        ]
        return dict(self.http.call("POST", "/v1/merchant/products", {"name": name, "skus": skus}, self.m))

    def order(self, sku: str, *, confirm: bool = True, ship: bool = False, receive: bool = False) -> str:
        http, c = self.http, self.c
        body = {"items": [{"sku_id": sku, "quantity": 1}], "payment_method": "bnpl", "address": self.ship_to}
        placed = http.call("POST", "/v1/checkout", body, c, idem=True)["orders"][0]
        order_id = str(placed["order_id"])
        if confirm:
            challenge = {"challenge_id": placed["challenge"]["challenge_id"], "password": PASSWORD}
            http.call("POST", f"/v1/orders/{order_id}/confirmation", challenge, c, idem=True)
        if ship or receive:
            shipment = {"carrier": "SF", "tracking_number": "SF123456"}
            http.call("POST", f"/v1/merchant/orders/{order_id}/shipment", shipment, self.m)
        if receive:
            http.call("POST", f"/v1/orders/{order_id}/receipt", token=c)
        return order_id

    def return_request(self, order_id: str) -> str:
        return str(
            self.http.call("POST", f"/v1/orders/{order_id}/return-requests", {"reason": "坏了"}, self.c)["request_id"]
        )

    def address(self) -> str:
        return str(self.http.call("POST", "/v1/me/addresses", self.ship_to, self.c)["address_id"])


def prepare(base: str) -> dict[str, Any]:
    """Tokens per role and real resource ids; and a second consumer and merchant (B) whose
    resource ids (`foreign`) the hooks also try with the first ones' tokens: each must be a
    404 to them (SPEC: another user's resource is a 404)."""
    http = Http(base)
    run = uuid.uuid4().hex[:6]
    roles = ("consumer", "merchant", "reviewer", "support", "risk")
    subs = {role: f"fuzz-{role}-{run}" for role in roles}
    subs |= {"consumer_b": f"fuzz-consumer-b-{run}", "merchant_b": f"fuzz-merchant-b-{run}"}
    tokens = {
        who: http.call("POST", "/v1/dev/tokens", {"sub": sub, "roles": [who.removesuffix("_b")]})["token"]
        for who, sub in subs.items()
    }
    a = World(http, tokens["consumer"], tokens["merchant"], ADDRESS)
    card = a.activate(ID_NUMBER, CARD_NUMBER)
    product = a.product("fuzz 手机壳")
    skus = [s["sku_id"] for s in product["skus"]]
    http.call("PUT", f"/v1/cart/items/{skus[1]}", {"quantity": 1, "selected": True}, a.c)
    orders = [a.order(skus[0], confirm=False), a.order(skus[0])]
    shipped, received = a.order(skus[0], ship=True), a.order(skus[0], receive=True)
    returning = a.order(skus[0], receive=True)
    request = a.return_request(returning)
    address = a.address()

    # B: another consumer buying from another merchant; nothing of theirs is A's to see.
    b = World(http, tokens.pop("consumer_b"), tokens.pop("merchant_b"), ADDRESS_B)
    sandbox = http.call("GET", "/v1/dev/sandbox")
    b_card = b.activate(sandbox["id_number"], sandbox["card_number"])
    b_product = b.product("fuzz 耳机")
    b_sku = b_product["skus"][0]["sku_id"]
    b_orders = [b.order(b_sku, confirm=False), b.order(b_sku, ship=True), b.order(b_sku, receive=True)]
    b_returning = b.order(b_sku, receive=True)
    b_request = b.return_request(b_returning)
    foreign = {
        "order_id": [*b_orders, b_returning],
        "card_id": [b_card],
        "address_id": [b.address()],
        "request_id": [b_request],
        "product_id": [b_product["product_id"]],  # a merchant's own product routes only (the catalog is public)
    }
    return {
        "tokens": tokens,
        "ids": {
            "order_id": [*orders, shipped, received, returning],
            "product_id": [product["product_id"]],
            "sku_id": skus,
            "card_id": [card],
            "request_id": [request],
            "address_id": [address],
        },
        "foreign": foreign,
    }


# `make fuzz` runs every phase; the coverage phase (each operation's boundary and invalid values,
# enumerated: ~3,900 of the 4,500 cases, two thirds of the time) is left out of `make test`'s short run.
ALL_PHASES = "examples,coverage,fuzzing"


def schemathesis_command(
    base: str, *, max_examples: int, max_time: int | None, seed: int | None, phases: str = ALL_PHASES
) -> list[str]:
    cmd = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(CONFIG),
        "run",
        f"{base}/v1/openapi.json",
        "--url",
        base,
        "--checks",
        "all",
        "--exclude-checks",
        ",".join(EXCLUDED_CHECKS),
        "--exclude-path-regex",
        "^/v1/dev/",
        "--phases",
        phases,
        "--max-examples",
        str(max_examples),
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--suppress-health-check",
        "all",
        "--warnings",
        "off",
    ]
    if max_time:
        cmd += ["--max-time", str(max_time)]
    if seed is not None:
        cmd += ["--seed", str(seed)]
    return cmd


def fuzz(
    *,
    max_examples: int,
    max_time: int | None = None,
    seed: int | None = None,
    phases: str = ALL_PHASES,
    extra: list[str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Start the stack, prepare the world, run schemathesis; the completed process (exit code, output)."""
    with local_stack() as base, tempfile.TemporaryDirectory(prefix="paylater-fuzz-") as tmp:
        state = Path(tmp) / "state.json"
        state.write_text(json.dumps(prepare(base)))
        env = {**os.environ, "SCHEMATHESIS_HOOKS": str(HOOKS), STATE_ENV: str(state), "PYTHONPATH": str(ROOT)}
        cmd = schemathesis_command(base, max_examples=max_examples, max_time=max_time, seed=seed, phases=phases)
        cmd += extra or []
        return subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True, check=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=200)
    parser.add_argument("--max-time", type=int, default=None)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--phases", default=ALL_PHASES)
    args, extra = parser.parse_known_args(argv)
    result = fuzz(
        max_examples=args.max_examples, max_time=args.max_time, seed=args.seed, phases=args.phases, extra=extra
    )
    print(result.stdout)
    print(result.stderr, file=sys.stderr)
    return result.returncode


if __name__ == "__main__":
    raise SystemExit(main())
