"""JSON logs with a correlation id on every line, and EMF business metrics.

Only ids, codes and counts are logged: never names, ID numbers, card numbers or tokens.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger(service="paylater", use_rfc3339=True)


@lru_cache(maxsize=1)
def metrics() -> Metrics:
    return Metrics(namespace="PayLater", service="paylater")


def count(name: str, value: int = 1, **dimensions: str) -> None:
    """Emit one business metric as EMF (flushed immediately: Chalice has no end hook)."""
    m = metrics()
    for k, v in dimensions.items():
        m.add_dimension(name=k, value=v)
    m.add_metric(name=name, unit=MetricUnit.Count, value=value)
    try:
        m.flush_metrics()
    except Exception:  # noqa: BLE001 - metrics must never break a request
        logger.warning("metric flush failed", extra={"metric": name})


def bind_request(request_id: str | None, correlation_id: str | None, **keys: Any) -> None:
    logger.remove_keys(["request_id", "correlation_id", "user_id", "route"])
    logger.append_keys(request_id=request_id, correlation_id=correlation_id or request_id, **keys)
