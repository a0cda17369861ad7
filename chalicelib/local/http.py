"""The local API server: Chalice's, answering as API Gateway does where Chalice does not.

API Gateway answers a method or path no route declares with 403 (its "Missing
Authentication Token"); Chalice's local server answers an unknown method with an HTML 501
and a known path's other method with its own 405 JSON. Here every one of those is a
problem+json 403 with the stable code `no_such_operation`, and malformed requests are
problem+json 400s. The app logs one line per request, so the server's own line is off.

The server answers each connection in a thread, while a plain `Chalice` app keeps the request
being answered in one attribute (`current_request`): two overlapping requests could each be
answered with the other's headers and body (seen under `make bench`'s concurrent clients: a
checkout answered with another user's order, replayed from that user's idempotency key).
`chalice local` swaps in `LocalChalice`, whose `current_request` is per thread; `server()`
does the same. A Lambda answers one request at a time, so the deployed app is unchanged.
"""

from __future__ import annotations

from typing import Any

from chalice.app import Chalice
from chalice.config import Config
from chalice.local import ChaliceRequestHandler, LocalChalice, LocalDevServer, LocalGatewayException

from ..edge import NO_SUCH_OPERATION, REQUEST_ID_HEADER, correlation_id, request_id_for, with_request_id
from ..errors import PROBLEM_JSON, ApiError


class LocalRequestHandler(ChaliceRequestHandler):
    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):  # a method Chalice's server has no handler for (TRACE, …)
            return self._undeclared
        raise AttributeError(name)

    def _undeclared(self) -> None:
        self._parse_payload()  # read the body, so the connection can carry the next request
        self._problem(NO_SUCH_OPERATION)

    def _send_error_response(self, error: LocalGatewayException) -> None:
        self._problem(NO_SUCH_OPERATION)

    def _send_http_response(self, code: int, headers: Any, body: str | bytes | None) -> None:
        if (
            code == 405
            and body is not None
            and b"MethodNotAllowedError" in (body if isinstance(body, bytes) else body.encode())
        ):
            self._problem(NO_SUCH_OPERATION)
            return
        super()._send_http_response(code, headers, body)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """A request the HTTP layer cannot read (bad request line, headers too long)."""
        self.close_connection = True
        self._problem(ApiError(400 if code == 501 else code, "bad_request", message or "the request is malformed"))

    def _problem(self, err: ApiError) -> None:
        """As the deployed gateway answers (its Gateway Responses): problem+json with a request id."""
        headers = getattr(self, "headers", None)
        request_id = request_id_for(correlation_id(headers.get("X-Correlation-Id") if headers else None))
        super()._send_http_response(
            err.status,
            {"Content-Type": PROBLEM_JSON, REQUEST_ID_HEADER: request_id},
            with_request_id(err.render(), request_id),
        )

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the app logs one line per request."""


def server(app: Chalice, config: Config, host: str, port: int) -> LocalDevServer:
    """Chalice's local server for `app`, each request's `current_request` its thread's own."""
    if not isinstance(app, LocalChalice):
        app.__class__ = type("LocalPayLater", (LocalChalice, type(app)), {})
    return LocalDevServer(app, config, host, port, handler_cls=LocalRequestHandler)
