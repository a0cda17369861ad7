"""`make run`: the whole product on one machine.

An embedded AWS (moto server) with every table and queue, the Chalice app on
http://127.0.0.1:8000, the schedules on a timer, a queue worker, and demo data.
All parts share one process, so the movable service clock is the same for all of them.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import time
from typing import Any

HOST = "127.0.0.1"


def _free_port(preferred: int) -> int:
    with socket.socket() as s:
        try:
            s.bind((HOST, preferred))
            return preferred
        except OSError:
            s.bind((HOST, 0))
            return int(s.getsockname()[1])


def _environment(aws_port: int) -> None:
    from ..config import stage_environment

    os.environ.update(stage_environment("local"))
    endpoint = f"http://{HOST}:{aws_port}"
    os.environ.update(
        {
            "DYNAMODB_ENDPOINT": endpoint,
            "SQS_ENDPOINT": endpoint,
            "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "cn-north-1"),
            "AWS_REGION": os.environ.get("AWS_REGION", "cn-north-1"),
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "POWERTOOLS_METRICS_DISABLED": "true",
        }
    )


def _loop(name: str, every: float, stop: threading.Event, fn: Any) -> threading.Thread:
    def run() -> None:
        from ..observability import logger

        while not stop.is_set():
            try:
                fn()
            except Exception as exc:  # noqa: BLE001 - a local loop logs and keeps going
                logger.warning(f"{name} round failed", extra={"error": type(exc).__name__})
            stop.wait(every)

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread


def main() -> None:
    api_port = int(os.environ.get("PORT", "8000"))
    aws_port = _free_port(int(os.environ.get("LOCAL_AWS_PORT", "5055")))
    _environment(aws_port)

    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    moto_server = ThreadedMotoServer(ip_address=HOST, port=aws_port, verbose=False)
    moto_server.start()

    from ..config import settings

    cfg = settings()
    assert cfg.local_jwt_key_file
    from .issuer import ensure_key

    ensure_key(cfg.local_jwt_key_file)

    from chalice.cli.factory import CLIFactory

    from .. import jobs
    from ..clock import clock
    from . import seed, worker
    from .resources import create_all

    create_all()
    project_dir = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    factory = CLIFactory(project_dir=project_dir)
    config = factory.create_config_obj(chalice_stage_name="local")
    app = factory.load_chalice_app(config.environment_variables)
    seeded = seed.seed_all(clock.now())

    from ..api import dev

    stop = threading.Event()
    schedule_every = float(os.environ.get("LOCAL_SCHEDULE_SECONDS", "30"))

    def run_jobs() -> None:
        for name in jobs.names():
            jobs.run(name, clock.now())

    _loop("scheduler", schedule_every, stop, run_jobs)
    _loop("queue-worker", 1.0, stop, lambda: worker.poll_once(dev.QUEUE_HANDLERS, wait_seconds=1))

    server = factory.create_local_server(app, config, HOST, api_port)
    base = f"http://{HOST}:{api_port}"
    print(
        f"""
PayLater local stack
  API          {base}   (OpenAPI: {base}/v1/openapi.json)
  console      {base}/console/   (sign in as a demo reviewer, merchant or support user)
  moto (AWS)   http://{HOST}:{aws_port}
  schedules    every {schedule_every:.0f}s: {", ".join(jobs.names()) or "none yet"}
  queue worker polling {cfg.review_queue_name}
  demo data    {"; ".join(seeded)}

Get a token:
  curl -s -X POST {base}/v1/dev/tokens -H 'Content-Type: application/json' \\
       -d '{{"sub": "{seed.DEMO_CONSUMER}", "roles": ["consumer"]}}'
Move the clock:  curl -s -X POST {base}/v1/dev/clock -d '{{"advance_seconds": 86400}}'
Ctrl-C stops everything.
""",
        flush=True,
    )

    def shutdown(*_: Any) -> None:
        stop.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGINT, shutdown)
    signal.signal(signal.SIGTERM, shutdown)
    try:
        server.serve_forever()
    finally:
        stop.set()
        moto_server.stop()
        time.sleep(0.1)
        print("PayLater local stack stopped.", file=sys.stderr)


if __name__ == "__main__":
    main()
