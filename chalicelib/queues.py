"""SQS: one lazily created client (honouring the stage's endpoint) and queue URLs."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from .config import settings


@lru_cache(maxsize=1)
def client() -> Any:
    import boto3  # loaded on first use: most routes never touch SQS

    cfg = settings()
    return boto3.client("sqs", region_name=cfg.region, endpoint_url=cfg.sqs_endpoint)


@lru_cache(maxsize=8)
def url(name: str) -> str:
    return str(client().get_queue_url(QueueName=name)["QueueUrl"])


def send(name: str, body: dict[str, Any], delay_seconds: int = 0) -> str:
    """Send one JSON message (visible after `delay_seconds`, at most 900); returns its message id."""
    resp = client().send_message(
        QueueUrl=url(name), MessageBody=json.dumps(body, separators=(",", ":")), DelaySeconds=delay_seconds
    )
    return str(resp["MessageId"])
