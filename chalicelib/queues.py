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


def send(name: str, body: dict[str, Any]) -> str:
    """Send one JSON message; returns its message id."""
    resp = client().send_message(QueueUrl=url(name), MessageBody=json.dumps(body, separators=(",", ":")))
    return str(resp["MessageId"])
