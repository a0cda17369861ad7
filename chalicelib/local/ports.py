"""The local stack's ports, read the same way by `make run`, `make demo`, `make redrive`
and the walks: `PORT` (the API, default 8000) and `LOCAL_AWS_PORT` (moto, 5055).
A bad value or a stack that does not answer is one sentence, never a traceback."""

from __future__ import annotations

import os
import socket

HOST = "127.0.0.1"
DEFAULTS = {"PORT": 8000, "LOCAL_AWS_PORT": 5055}


def port(name: str) -> int:
    raw = os.environ.get(name, "").strip() or str(DEFAULTS[name])
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise SystemExit(f"{name}={raw!r} is not a port: give a number from 1 to 65535.")
    return int(raw)


def api_base() -> str:
    return f"http://{HOST}:{port('PORT')}"


def aws_endpoint() -> str:
    return f"http://{HOST}:{port('LOCAL_AWS_PORT')}"


def require_free(name: str) -> int:
    """The port `name` names, if nothing listens on it yet."""
    number = port(name)
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers bind: TIME_WAIT is free
        try:
            s.bind((HOST, number))
        except OSError:
            raise SystemExit(
                f"{name}={number} is taken (is the stack already running?): stop what holds it, "
                f"or choose another port with {name}=…"
            ) from None
    return number


def require_running(name: str) -> int:
    """The port `name` names, if the local stack answers on it."""
    number = port(name)
    try:
        socket.create_connection((HOST, number), timeout=2).close()
    except OSError:
        raise SystemExit(
            f"nothing answers on {HOST}:{number} ({name}): start the stack with `make run` "
            f"(with the same {name}) in another terminal first."
        ) from None
    return number
