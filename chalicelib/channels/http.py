"""A small HTTPS client for the channels' server APIs (standard library only).

A timeout or a 5xx is not an answer: callers treat it as "pending" and settle later
through `query` or the notification, so a payment is never taken twice. On a sandbox stage
the channels' servers are simulated in process (`simulator.py`).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from ..config import settings


class ChannelUnavailable(Exception):
    """The channel did not answer in time, or answered with a server error."""


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


def request(method: str, url: str, *, body: bytes | None = None, headers: dict[str, str] | None = None) -> HttpAnswer:
    if not url.startswith("https://"):
        raise ValueError("channel endpoints are HTTPS")
    if settings().channel_sandbox:
        from .simulator import SIMULATOR  # the sandbox channels answer in process

        answer = HttpAnswer(*SIMULATOR.serve(method, url, body, headers or {}))
        if answer.status >= 500:
            raise ChannelUnavailable(f"status {answer.status}")
        return answer
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})  # noqa: S310 - https only
    timeout = settings().channels.http_timeout_seconds
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - https only
            answer = HttpAnswer(resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read())
    except urllib.error.HTTPError as exc:
        answer = HttpAnswer(exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read())
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise ChannelUnavailable(type(exc).__name__) from exc
    if answer.status >= 500:
        raise ChannelUnavailable(f"status {answer.status}")
    return answer
