"""JSON logs with a correlation id on every line, and EMF business metrics.

Only ids, codes and counts are logged: never names, ID numbers, card numbers or tokens.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

# SDK debug logs print request parameters (names, ID ciphertexts, card tokens): they stay
# off whatever LOG_LEVEL says.
for _sdk in ("pynamodb", "botocore", "boto3", "urllib3"):
    logging.getLogger(_sdk).setLevel(logging.WARNING)

logger = Logger(service="paylater", use_rfc3339=True)


@lru_cache(maxsize=1)
def metrics() -> Metrics:
    return Metrics(namespace="PayLater", service="paylater")


_METRICS_LOCK = threading.Lock()


def count(name: str, value: int = 1, **dimensions: str) -> None:
    """Emit one business metric as EMF (flushed immediately: Chalice has no end hook).

    One at a time: the Metrics object collects dimensions and values until the flush, and
    the local server answers requests in threads (a Lambda runs one at a time)."""
    m = metrics()
    with _METRICS_LOCK:
        for k, v in dimensions.items():
            m.add_dimension(name=k, value=v)
        m.add_metric(name=name, unit=MetricUnit.Count, value=value)
        try:
            m.flush_metrics()
        except Exception:  # noqa: BLE001 - metrics must never break a request
            logger.warning("metric flush failed", extra={"metric": name})
        finally:
            # With metrics disabled (tests, the local stack) Powertools flushes nothing and
            # keeps every value and dimension: a long-running stack grew without bound.
            m.clear_metrics()


REQUEST_KEYS = [
    "request_id",
    "correlation_id",
    "user_id",
    "route",
    "gateway_request_id",
    "function_request_id",
]


def bind_request(request_id: str | None, correlation_id: str | None, **keys: Any) -> None:
    logger.thread_safe_remove_keys([k for k in REQUEST_KEYS if k != "function_request_id"])
    logger.thread_safe_append_keys(request_id=request_id, correlation_id=correlation_id or request_id, **keys)


def bind_user(user_id: str) -> None:
    """The caller, on every later line of this request."""
    logger.thread_safe_append_keys(user_id=user_id)


def bind_invocation(event: Any, get_response: Callable[[Any], Any]) -> Any:
    """Chalice middleware for every event type: each log line of an invocation carries the
    Lambda request id, and nothing from the previous invocation of a warm container.
    The keys are the thread's own (Powertools' thread-safe keys): a Lambda runs one request
    at a time, but the local server answers each request in a thread, and shared keys put
    one caller's ids on another's lines.

    HTTP views rebind with API Gateway's request id (the one in the access log) and the
    caller's X-Correlation-Id; schedules and queue handlers keep the Lambda request id.
    """
    context = getattr(event, "lambda_context", None) or getattr(event, "context", None)
    function_request_id = getattr(context, "aws_request_id", None)
    logger.thread_safe_remove_keys(REQUEST_KEYS)
    logger.thread_safe_append_keys(
        function_request_id=function_request_id, request_id=function_request_id, correlation_id=function_request_id
    )
    try:
        return get_response(event)
    finally:
        logger.thread_safe_remove_keys(REQUEST_KEYS)


def install(app: Any) -> None:
    """Bind request ids for every handler of `app` (API, schedules, queue handlers)."""
    app.register_middleware(bind_invocation, "all")
