"""See and re-drive the review queue's dead-letter queue.

    python -m chalicelib.local.redrive list            # what is in the DLQ (ids only)
    python -m chalicelib.local.redrive move [--max N]  # send it back to the review queue

The local stage (default) talks to the local stack's moto server
(`LOCAL_AWS_PORT`, default 5055); `--stage dev|prod` uses the stage's queue names and
your AWS credentials. A message is moved by receive → send to the source queue → delete,
so its receive count starts again; the review handler is idempotent, so moving a message
whose request was meanwhile decided changes nothing. (In the cloud, SQS's own
`start-message-move-task` does the same; moto does not implement it.)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

PEEK_VISIBILITY_SECONDS = 30


def _client(stage: str) -> tuple[Any, str, str]:
    import boto3

    from ..config import stage_environment

    env = stage_environment(stage)
    endpoint = None
    if stage == "local":
        from .ports import aws_endpoint, require_running

        endpoint = os.environ.get("SQS_ENDPOINT") or None
        if endpoint is None:
            require_running("LOCAL_AWS_PORT")
            endpoint = aws_endpoint()
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "cn-north-1"
    sqs = boto3.client("sqs", region_name=region, endpoint_url=endpoint)
    queue = sqs.get_queue_url(QueueName=env["REVIEW_QUEUE_NAME"])["QueueUrl"]
    dlq = sqs.get_queue_url(QueueName=env["REVIEW_DLQ_NAME"])["QueueUrl"]
    return sqs, queue, dlq


def peek(sqs: Any, dlq_url: str, max_messages: int = 100) -> list[dict[str, Any]]:
    """The DLQ's messages (id, body, receive count, first sent); they stay in the DLQ.

    Each is hidden while the peek goes on (so the next receive finds the next ones), then
    made visible again at once."""
    seen: dict[str, dict[str, Any]] = {}
    handles: list[str] = []
    try:
        while len(seen) < max_messages:
            resp = sqs.receive_message(
                QueueUrl=dlq_url,
                MaxNumberOfMessages=min(10, max_messages - len(seen)),
                AttributeNames=["All"],
                VisibilityTimeout=PEEK_VISIBILITY_SECONDS,
            )
            batch = [m for m in resp.get("Messages", []) if m["MessageId"] not in seen]
            if not batch:
                break
            for m in batch:
                attrs = m.get("Attributes", {})
                handles.append(m["ReceiptHandle"])
                seen[m["MessageId"]] = {
                    "message_id": m["MessageId"],
                    "body": m["Body"],
                    "receive_count": int(attrs.get("ApproximateReceiveCount", 0)),
                    "sent_at_ms": int(attrs.get("SentTimestamp", 0)),
                }
    finally:
        for handle in handles:
            sqs.change_message_visibility(QueueUrl=dlq_url, ReceiptHandle=handle, VisibilityTimeout=0)
    return list(seen.values())


def move(sqs: Any, dlq_url: str, queue_url: str, max_messages: int = 100) -> int:
    """Move up to `max_messages` from the DLQ back to the review queue; returns how many."""
    moved = 0
    while moved < max_messages:
        resp = sqs.receive_message(
            QueueUrl=dlq_url, MaxNumberOfMessages=min(10, max_messages - moved), VisibilityTimeout=30
        )
        messages = resp.get("Messages", [])
        if not messages:
            break
        for m in messages:
            sqs.send_message(QueueUrl=queue_url, MessageBody=m["Body"])
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=m["ReceiptHandle"])
            moved += 1
    return moved


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chalicelib.local.redrive", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["list", "move"])
    parser.add_argument("--stage", default="local")
    parser.add_argument("--max", type=int, default=100, dest="max_messages")
    args = parser.parse_args(argv)
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        sqs, queue, dlq = _client(args.stage)
        if args.action == "list":
            messages = peek(sqs, dlq, args.max_messages)
            print(json.dumps({"dead_letters": len(messages), "messages": messages}, ensure_ascii=False, indent=2))
        else:
            print(json.dumps({"moved": move(sqs, dlq, queue, args.max_messages)}))
    except (BotoCoreError, ClientError) as exc:
        print(f"the {args.stage} stage's queues did not answer: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
