"""The local stack's CPU once idle, after the clock moved weeks ahead with many orders.

Starts `python -m chalicelib.local.stack` on free loopback ports (its default schedule), makes
`--orders` purchases over HTTP (先用后付, confirmed; every second one shipped, every tenth left
unconfirmed), moves the clock `--days` ahead, then samples the process's CPU (utime + stime
from /proc) in `--max-windows` windows of `--window` seconds, and reports each window's share
of one core and how many job runs it logged: the first windows catch up, the last ones show
the idle. Loopback only; the stack is stopped at the end.

Usage: python -m scripts.idle_cpu [--orders 300] [--days 28] [--window 60] [--max-windows 8]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time
from pathlib import Path

from scripts.bench_http import ADDRESS, PASSWORD, PRICE_FEN, Http, _activated_user, _start_stack, _stop

ROOT = Path(__file__).resolve().parent.parent


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _start(log: Path, schedule_seconds: str | None, module: str) -> tuple[subprocess.Popen[bytes], str]:
    """The stack with its default schedule and log level (or LOCAL_SCHEDULE_SECONDS), logging to `log`."""
    overrides: dict[str, str | None] = {"LOCAL_SCHEDULE_SECONDS": schedule_seconds, "LOG_LEVEL": None}
    overrides["POWERTOOLS_LOG_LEVEL"] = None
    with log.open("wb") as out:
        return _start_stack(overrides, out, module)


def _orders(http: Http, count: int) -> None:
    from chalicelib.config import settings

    merchant = http.token("m-idle", "merchant")
    product = http.ok(
        "POST",
        "/v1/merchant/products",
        {"name": "空闲测量", "skus": [{"attributes": {}, "price_fen": PRICE_FEN, "stock": count * 2}]},
        merchant,
    )
    sku_id = product["skus"][0]["sku_id"]
    users = [_activated_user(http, 100 + i, settings().rules.agreement_version) for i in range(max(1, count // 50))]
    for n in range(count):
        token = users[n % len(users)]
        body = {"items": [{"sku_id": sku_id, "quantity": 1}], "payment_method": "bnpl", "address": ADDRESS}
        order = http.ok("POST", "/v1/checkout", body, token, idem=True)["orders"][0]
        if n % 10 == 9:
            continue  # left to its checkout expiry
        challenge = {"challenge_id": order["challenge"]["challenge_id"], "password": PASSWORD}
        http.ok("POST", f"/v1/orders/{order['order_id']}/confirmation", challenge, token, idem=True)
        if n % 2 == 0:
            shipment = {"carrier": "SF", "tracking_number": f"SF{n:010d}"}
            http.ok("POST", f"/v1/merchant/orders/{order['order_id']}/shipment", shipment, merchant, idem=True)


def _job_lines(log: Path) -> list[str]:
    return [line for line in log.read_text(errors="replace").splitlines() if "job finished" in line]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--window", type=float, default=60.0)
    parser.add_argument("--max-windows", type=int, default=8)
    parser.add_argument("--schedule-seconds", default=None, help="LOCAL_SCHEDULE_SECONDS for the stack")
    parser.add_argument("--module", default="chalicelib.local.stack", help="the stack to start (to compare versions)")
    parser.add_argument("--log", default=".local/idle_cpu.log")
    args = parser.parse_args(argv)
    from chalicelib.config import stage_environment

    os.environ.update({k: v for k, v in stage_environment("local").items() if k not in os.environ})
    log = ROOT / args.log
    log.parent.mkdir(parents=True, exist_ok=True)
    proc, base = _start(log, args.schedule_seconds, args.module)
    try:
        http = Http(base)
        started = time.perf_counter()
        _orders(http, args.orders)
        print(f"{args.orders} orders in {time.perf_counter() - started:.0f} s; clock +{args.days} days", flush=True)
        http.ok("POST", "/v1/dev/clock", {"advance_seconds": args.days * 86400})
        for window in range(1, args.max_windows + 1):
            jobs_before = len(_job_lines(log))
            cpu, wall = _cpu_seconds(proc.pid), time.monotonic()
            time.sleep(args.window)
            share = (_cpu_seconds(proc.pid) - cpu) / (time.monotonic() - wall)
            rounds = len(_job_lines(log)) - jobs_before
            print(f"window {window}: {share * 100:5.1f} % of one core, {rounds} job runs", flush=True)
    finally:
        _stop(proc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
