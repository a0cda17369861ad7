"""The local queue worker: receive from SQS (moto) and call the app's queue handlers
with the event Lambda would send, deleting what they report as done."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import boto3

from ..config import settings

QueueHandler = Callable[[dict[str, Any], Any], Any]


@lru_cache(maxsize=1)
def sqs() -> Any:
    cfg = settings()
    return boto3.client("sqs", region_name=cfg.region, endpoint_url=cfg.sqs_endpoint)


@lru_cache(maxsize=16)
def queue_url(name: str) -> str:
    return str(sqs().get_queue_url(QueueName=name)["QueueUrl"])


def queue_arn(name: str) -> str:
    attrs = sqs().get_queue_attributes(QueueUrl=queue_url(name), AttributeNames=["QueueArn"])
    return str(attrs["Attributes"]["QueueArn"])


def to_lambda_event(messages: list[dict[str, Any]], arn: str) -> dict[str, Any]:
    region = settings().region
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": m.get("MessageAttributes", {}),
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }


def poll_once(handlers: dict[str, QueueHandler], wait_seconds: int = 0) -> dict[str, int]:
    """One receive per queue; returns how many messages each handler saw."""
    seen: dict[str, int] = {}
    for name, handler in handlers.items():
        url = queue_url(name)
        resp = sqs().receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
            VisibilityTimeout=30,
        )
        messages = resp.get("Messages", [])
        if not messages:
            continue
        seen[name] = len(messages)
        result = handler(to_lambda_event(messages, queue_arn(name)), None)
        failed = {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}
        for m in messages:
            if m["MessageId"] not in failed:
                sqs().delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            else:
                # Make a failed message visible again soon, as Lambda's retry would.
                sqs().change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
    return seen


def outstanding(handlers: dict[str, QueueHandler]) -> int:
    """Messages waiting, delayed or in flight (received by anyone and not yet deleted)."""
    names = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]
    total = 0
    for name in handlers:
        attrs = sqs().get_queue_attributes(QueueUrl=queue_url(name), AttributeNames=names)["Attributes"]
        total += sum(int(attrs.get(n, 0)) for n in names)
    return total


def drain(handlers: dict[str, QueueHandler], timeout_seconds: float = 30.0) -> dict[str, int]:
    """A barrier: process what is waiting, and return once nothing waits or is in flight,
    whoever holds it (the local stack's own worker may be handling a message right now),
    or at the timeout (`outstanding` then says what is left). A message that keeps failing
    goes to the DLQ after its receives. Answers what this call processed."""
    total: dict[str, int] = {}
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        seen = poll_once(handlers)
        for k, v in seen.items():
            total[k] = total.get(k, 0) + v
        if not seen:
            if outstanding(handlers) == 0:
                break
            time.sleep(0.05)
    return total
