"""A merchant's webhook receiver: verifies every delivery with the `standardwebhooks` package.

    python -m scripts.webhook_receiver --secret whsec_... [--port 8700]

Register http://127.0.0.1:8700/ as an endpoint (the local stack allows http to 127.0.0.1),
then each event is printed, or refused with 401 if its signature does not verify. Verify
the raw body bytes exactly as received, before any JSON parsing: a framework that parses
and re-serialises the body first breaks the signature. Deduplicate by `webhook-id`
(delivery is at least once) and order by `sequence` per object. The tests use
`Receiver` as the merchant's side too.
"""

from __future__ import annotations

import argparse
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Delivery:
    headers: dict[str, str]
    body: bytes
    verified: bool
    event: dict[str, Any] | None


@dataclass
class Receiver:
    """Listens on 127.0.0.1 only. `answer(delivery) -> (status, headers)` decides the reply
    (200 by default); `secrets` are the ones it accepts (any of them verifies)."""

    secrets: list[str]
    answer: Callable[[Delivery], tuple[int, dict[str, str]]] | None = None
    port: int = 0
    received: list[Delivery] = field(default_factory=list)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                delivery = receiver.verify(body, headers)
                receiver.received.append(delivery)
                status, extra = receiver.answer(delivery) if receiver.answer else (200, {})
                if not delivery.verified:
                    status = 401
                self.send_response(status)
                for k, v in extra.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok" if status < 300 else f"status {status}".encode())

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def verify(self, body: bytes, headers: dict[str, str]) -> Delivery:
        for secret in self.secrets:
            try:
                event = Webhook(secret).verify(body, headers)
            except WebhookVerificationError:
                continue
            return Delivery(headers, body, True, event)
        return Delivery(headers, body, False, None)

    def start(self) -> Receiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def events(self) -> list[dict[str, Any]]:
        return [d.event for d in self.received if d.verified and d.event is not None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--secret", required=True, action="append", help="whsec_... (repeat during a roll)")
    parser.add_argument("--port", type=int, default=8700)
    args = parser.parse_args()

    def show(d: Delivery) -> tuple[int, dict[str, str]]:
        if d.verified and d.event is not None:
            print(d.headers.get("webhook-id"), json.dumps(d.event, ensure_ascii=False), flush=True)
        else:
            print("REFUSED (signature does not verify)", d.headers.get("webhook-id"), flush=True)
        return 200, {}

    receiver = Receiver(args.secret, show, args.port)
    print(f"listening on {receiver.url} (Ctrl-C stops)", flush=True)
    try:
        receiver._server.serve_forever()
    except KeyboardInterrupt:
        receiver.stop()


if __name__ == "__main__":
    main()
