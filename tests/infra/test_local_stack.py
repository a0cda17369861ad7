"""The local stack's tools: the drain is a barrier, and a bad port or a stack that is not
running is one sentence, not a traceback."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from chalicelib import queues
from chalicelib.config import settings
from chalicelib.local import worker

ROOT = Path(__file__).resolve().parents[2]


def test_the_drain_waits_for_a_message_another_worker_holds() -> None:
    name = settings().review_queue_name
    sqs, url = queues.client(), queues.url(name)
    sqs.send_message(QueueUrl=url, MessageBody="{}")
    # The stack's own worker has just received it: in flight, invisible to the drain.
    held = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=30)["Messages"][0]
    handled: list[Any] = []
    done = threading.Event()
    drainer = threading.Thread(target=lambda: (worker.drain({name: lambda e, c: handled.append(e)}), done.set()))
    drainer.start()
    assert not done.wait(0.5), "the drain returned while a message was in flight"
    sqs.delete_message(QueueUrl=url, ReceiptHandle=held["ReceiptHandle"])  # the other worker finishes
    drainer.join(timeout=30)
    assert done.is_set() and handled == [] and worker.outstanding({name: lambda e, c: None}) == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("module", "given", "says"),
    [
        ("chalicelib.local.stack", {"PORT": "eighty"}, "PORT='eighty' is not a port"),
        ("chalicelib.local.stack", {"LOCAL_AWS_PORT": "70000"}, "LOCAL_AWS_PORT='70000' is not a port"),
        ("chalicelib.local.redrive", {"LOCAL_AWS_PORT": "{free}"}, "start the stack with `make run`"),
        ("scripts.demo", {"PORT": "{free}"}, "start `make run` in another terminal"),
    ],
)
def test_a_bad_port_or_no_stack_is_one_sentence(module: str, given: dict[str, str], says: str) -> None:
    values = {k: v.format(free=_free_port()) for k, v in given.items()}
    args = [sys.executable, "-m", module] + (["list"] if module.endswith("redrive") else [])
    clean = {k: v for k, v in os.environ.items() if k not in ("SQS_ENDPOINT", "PORT", "LOCAL_AWS_PORT")}
    env = {**clean, **values}
    run = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode != 0
    assert says in run.stderr and "Traceback" not in run.stderr, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr


def test_concurrent_requests_to_the_local_server_are_each_answered_as_their_own(app_module: Any) -> None:
    """The local server answers each connection in a thread; a request must never be answered
    with another's headers (8 clients once got other users' checkouts replayed to them)."""
    from chalice.config import Config

    from chalicelib.local.http import server as local_server
    from tests.conftest import Api

    app, original = app_module.app, type(app_module.app)
    port = _free_port()
    httpd = local_server(app, Config.create(chalice_app=app), "127.0.0.1", port)
    serving = threading.Thread(target=httpd.serve_forever, daemon=True)
    serving.start()
    try:
        app.current_request = "main"
        other = threading.Thread(target=lambda: setattr(app, "current_request", "other"))
        other.start()
        other.join()
        assert app.current_request == "main", "current_request is shared between threads"

        tokens = {f"u-thread-{i}": Api(None).token(f"u-thread-{i}") for i in range(8)}  # type: ignore[arg-type]
        wrong: list[str] = []

        def client(user: str) -> None:
            for _ in range(15):
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/v1/me", headers={"Authorization": f"Bearer {tokens[user]}"}
                )
                with urllib.request.urlopen(request, timeout=30) as r:
                    answered = json.loads(r.read())["user_id"]
                if answered != user:
                    wrong.append(f"{user} answered as {answered}")

        clients = [threading.Thread(target=client, args=(user,)) for user in tokens]
        for t in clients:
            t.start()
        for t in clients:
            t.join()
        assert wrong == []
    finally:
        httpd.shutdown()
        app.__class__ = original


def test_the_demo_data_reads_back_through_the_api(api: Any) -> None:
    """Every seeded order renders for its buyer and its merchant (seeded items once lacked
    fields the order view needs: a 500 on the demo consumer's own order)."""
    from chalicelib.clock import clock
    from chalicelib.local import seed

    seed.seed_all(clock.now())
    for order_id in ("demo-paid-1", "demo-paid-2"):
        mine = api.get(f"/v1/orders/{order_id}", as_=seed.DEMO_CONSUMER)
        assert mine.status_code == 200 and mine.json["status"] == "paid" and mine.json["shipment"], mine.json
        theirs = api.get(f"/v1/merchant/orders/{order_id}", as_=seed.DEMO_MERCHANT, roles=["merchant"])
        assert theirs.status_code == 200, theirs.json
    assert api.get("/v1/wallet", as_=seed.DEMO_CONSUMER).status_code == 200


@pytest.mark.parametrize(
    ("signals", "to_group"),
    [
        ([signal.SIGINT, signal.SIGTERM], False),
        ([signal.SIGTERM, signal.SIGINT], True),
        ([signal.SIGINT, signal.SIGTERM] * 5, False),
        ([signal.SIGTERM, signal.SIGTERM, signal.SIGINT, signal.SIGTERM, signal.SIGINT] * 2, True),
    ],
)
def test_the_stack_stops_on_signals_in_quick_succession(signals: list[int], to_group: bool) -> None:
    """Issue 30: a second signal while the first one's handler held a lock hung `make run`
    for ever (`kill -- -PGID` signals `make` and the stack)."""
    from scripts.fuzz import free_port

    env = {**os.environ, "PORT": str(free_port()), "LOCAL_AWS_PORT": str(free_port()), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "chalicelib.local.stack"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, as `make run` has
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # the banner comes once the signal handlers are set
            if "Ctrl-C stops everything" in line:
                break
        for signum in signals:
            if to_group:
                os.killpg(proc.pid, signum)
            else:
                proc.send_signal(signum)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
