"""One HTTP POST to a checked address (standard library only), bounded by a timeout: each
read, and the whole exchange (a receiver trickling its answer a byte at a time cannot hold a
delivery, and the sweep with it, past it: the socket is shut at the deadline).

The connection goes to the address `addresses.resolve` checked, while the Host header and
the TLS server name stay the URL's host: a DNS answer that changes between the check and the
connect cannot redirect the request inside.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from dataclasses import dataclass

from .addresses import Target


@dataclass(frozen=True)
class Answer:
    status: int  # 0: no answer (refused, timed out, connection failed)
    latency_ms: int
    text: str  # the first bytes of the answer (the log keeps them)
    retry_after: str | None = None
    error: str | None = None


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout, context=ssl.create_default_context())
        self._address = target.address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def _cut(conn: http.client.HTTPConnection, expired: threading.Event) -> None:
    """At the deadline: shut the socket, which ends the read waiting on it."""
    expired.set()
    sock = conn.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already closed


def post(target: Target, body: bytes, headers: dict[str, str], *, timeout: float, keep_bytes: int) -> Answer:
    started = time.monotonic()
    conn: http.client.HTTPConnection = (
        _PinnedHTTPS(target, timeout)
        if target.scheme == "https"
        else http.client.HTTPConnection(target.address, target.port, timeout=timeout)
    )
    expired = threading.Event()
    deadline = threading.Timer(timeout, _cut, (conn, expired))
    deadline.daemon = True
    deadline.start()
    try:
        conn.request(
            "POST",
            target.path,
            body=body,
            headers={
                **headers,
                "Host": target.host if target.port in (80, 443) else f"{target.host}:{target.port}",
                "Content-Type": "application/json",
                "User-Agent": "PayLater-Webhooks/1",
            },
        )
        resp = conn.getresponse()
        text = resp.read(keep_bytes).decode("utf-8", errors="replace")
        if expired.is_set():  # what was read before the cut is no answer (the socket ended it)
            return Answer(0, _ms(started), "", error="deadline")
        return Answer(resp.status, _ms(started), text, resp.getheader("Retry-After"))
    except (OSError, http.client.HTTPException) as exc:
        return Answer(0, _ms(started), "", error="deadline" if expired.is_set() else type(exc).__name__)
    finally:
        deadline.cancel()
        conn.close()


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
