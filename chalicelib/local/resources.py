"""Create every table and queue of the stage (local stack and tests; the cloud uses the
CloudFormation in `infra/`)."""

from __future__ import annotations

import json
from typing import Any

import boto3

from ..config import settings
from ..models.registry import all_models

# After this many receives a review message goes to the dead-letter queue.
MAX_RECEIVES = 5


def create_tables() -> None:
    for model in all_models():
        if not model.exists():
            model.create_table(billing_mode="PAY_PER_REQUEST", wait=True)


def create_queues(sqs: Any | None = None) -> dict[str, str]:
    cfg = settings()
    sqs = sqs or boto3.client("sqs", region_name=cfg.region, endpoint_url=cfg.sqs_endpoint)
    dlq_url = sqs.create_queue(QueueName=cfg.review_dlq_name)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue_url = sqs.create_queue(
        QueueName=cfg.review_queue_name,
        Attributes={
            "VisibilityTimeout": "60",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVES)}),
        },
    )["QueueUrl"]
    return {"queue": queue_url, "dlq": dlq_url}


def create_all() -> None:
    create_tables()
    create_queues()
