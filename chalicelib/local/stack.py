"""`make run`: the whole product on one machine.

An embedded AWS (moto server) with every table and queue, the Chalice app on
http://127.0.0.1:$PORT (8000), the schedules on a timer, a queue worker, and demo data.
All parts share one process, so the movable service clock is the same for all of them.
SIGINT (Ctrl-C) and SIGTERM stop it at once.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import Any

from .ports import HOST, require_free


def _environment(api_port: int, aws_port: int) -> dict[str, str]:
    from ..config import stage_environment

    endpoint = f"http://{HOST}:{aws_port}"
    env = {
        **stage_environment("local"),
        "DYNAMODB_ENDPOINT": endpoint,
        "SQS_ENDPOINT": endpoint,
        # Channel notifications (Alipay's notify_url, …) come back to this API's port.
        "CHANNEL_NOTIFY_BASE_URL": f"http://{HOST}:{api_port}",
        "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "cn-north-1"),
        "AWS_REGION": os.environ.get("AWS_REGION", "cn-north-1"),
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
    os.environ.update(env)
    return env


def _loop(name: str, every: float, stop: threading.Event, fn: Any) -> threading.Thread:
    def run() -> None:
        from ..observability import logger

        while not stop.is_set():
            try:
                fn()
            except Exception as exc:  # noqa: BLE001 - a local loop logs and keeps going
                if not stop.is_set():  # a round cut short by the shutdown is no error
                    logger.warning(f"{name} round failed", extra={"error": type(exc).__name__})
            stop.wait(every)

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    return thread


def banner(base: str, aws: str, schedule_every: float, jobs: list[str], queue: str, seeded: list[str]) -> str:
    json_header = "-H 'Content-Type: application/json'"
    return f"""
PayLater local stack
  API          {base}   (OpenAPI: {base}/v1/openapi.json)
  console      {base}/console/   (sign in as a demo reviewer, merchant or support user)
  moto (AWS)   {aws}
  schedules    checked every {schedule_every:.0f}s, each job at its cloud rate on the service clock:
               {", ".join(jobs) or "none yet"}
  queue worker polling {queue}
  demo data    {"; ".join(seeded)}

Get a token:
  curl -s -X POST {base}/v1/dev/tokens {json_header} \\
       -d '{{"sub": "demo-consumer", "roles": ["consumer"]}}'
Move the clock:  curl -s -X POST {base}/v1/dev/clock {json_header} -d '{{"advance_seconds": 86400}}'
The whole story: make demo{"" if base.endswith(":8000") else f" PORT={base.rsplit(':', 1)[1]}"}
Ctrl-C stops everything.
"""


class StopRequest:
    """What SIGINT/SIGTERM do: note the request, nothing more. A handler runs in the main
    thread between two bytecodes, maybe while that thread holds a lock (an `Event.set`
    does): taking a lock there waits for itself for ever (a second signal during the first
    handler's `stop.set()` hung `make run`). The serving loop sees the flag and stops; every
    later signal finds it set."""

    def __init__(self) -> None:
        self.requested = False

    def handler(self, signum: int, frame: Any) -> None:
        self.requested = True


def main() -> None:
    api_port = require_free("PORT")
    aws_port = require_free("LOCAL_AWS_PORT")
    env = _environment(api_port, aws_port)

    import logging

    from moto.server import ThreadedMotoServer

    from ..observability import logger
    from .logs import use_terminal_lines

    use_terminal_lines(logger)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    moto_server = ThreadedMotoServer(ip_address=HOST, port=aws_port, verbose=False)
    moto_server.start()

    from ..config import settings
    from . import serial  # noqa: F401 - importing it serialises moto's DynamoDB (see serial.py)

    cfg = settings()
    assert cfg.local_jwt_key_file
    from .issuer import ensure_key

    ensure_key(cfg.local_jwt_key_file)

    from chalice.cli.factory import CLIFactory

    from .. import schedules as jobs
    from ..clock import clock
    from . import seed, worker
    from .http import server as local_server
    from .resources import create_all
    from .scheduler import Scheduler, cloud_rates

    create_all()
    project_dir = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    factory = CLIFactory(project_dir=project_dir)
    config = factory.create_config_obj(chalice_stage_name="local")
    app = factory.load_chalice_app({**config.environment_variables, **env})
    seeded = seed.seed_all(clock.now())

    from ..api import dev

    stop = threading.Event()
    # Each tick runs the jobs whose cloud rate has passed on the service clock (scheduler.py).
    schedule_every = float(os.environ.get("LOCAL_SCHEDULE_SECONDS", "60"))
    scheduler = Scheduler(jobs.names(), cloud_rates(app), schedule_every)
    _loop("scheduler", schedule_every, stop, lambda: scheduler.round(clock.now(), jobs.run, stop.is_set))
    # A short receive each second: moto's long poll spins, which an idle stack would pay for.
    _loop("queue-worker", 1.0, stop, lambda: worker.poll_once(dev.QUEUE_HANDLERS))

    server = local_server(app, config, HOST, api_port)
    base = f"http://{HOST}:{api_port}"
    aws = f"http://{HOST}:{aws_port}"
    stopping = StopRequest()
    signal.signal(signal.SIGINT, stopping.handler)
    signal.signal(signal.SIGTERM, stopping.handler)
    print(banner(base, aws, schedule_every, jobs.names(), cfg.review_queue_name, seeded), flush=True)
    httpd = server.server
    httpd.timeout = 0.1  # how soon the loop sees a stop request
    while not stopping.requested:
        httpd.handle_request()  # each request in its own thread (ThreadingMixIn)
    stop.set()
    httpd.server_close()
    print("PayLater local stack stopped.", file=sys.stderr, flush=True)
    sys.stdout.flush()
    # Nothing is left to save (moto keeps its state in memory), and tearing down the
    # interpreter's heap of moto objects takes seconds: leave now.
    os._exit(0)


if __name__ == "__main__":
    main()
