"""Create every table and queue of the stage (local stack and tests) from the same
definitions the CloudFormation template is generated from (`chalicelib/definitions.py`)."""

from __future__ import annotations

import json
from typing import Any

import boto3

from ..config import settings
from ..definitions import MAX_RECEIVES, all_queues, all_tables

__all__ = ["MAX_RECEIVES", "create_all", "create_queues", "create_tables", "empty_all"]


def _dynamodb() -> Any:
    cfg = settings()
    return boto3.client("dynamodb", region_name=cfg.region, endpoint_url=cfg.dynamodb_endpoint)


def create_tables(ddb: Any | None = None) -> None:
    ddb = ddb or _dynamodb()
    existing = set(ddb.list_tables()["TableNames"])
    for table in all_tables():
        if table.table_name in existing:
            continue
        ddb.create_table(**table.create_table_args())
        ddb.get_waiter("table_exists").wait(TableName=table.table_name, WaiterConfig={"Delay": 1})
        if table.ttl_attribute:
            ddb.update_time_to_live(
                TableName=table.table_name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute},
            )


def create_queues(sqs: Any | None = None) -> dict[str, str]:
    cfg = settings()
    sqs = sqs or boto3.client("sqs", region_name=cfg.region, endpoint_url=cfg.sqs_endpoint)
    urls: dict[str, str] = {}
    for queue in all_queues(cfg):
        dlq_url = sqs.create_queue(
            QueueName=queue.dlq_name, Attributes={"MessageRetentionPeriod": str(queue.dlq_retention_seconds)}
        )["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        queue_url = sqs.create_queue(
            QueueName=queue.name,
            Attributes={
                "VisibilityTimeout": str(queue.visibility_timeout),
                "MessageRetentionPeriod": str(queue.retention_seconds),
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(queue.max_receives)}
                ),
            },
        )["QueueUrl"]
        # The first queue keeps the names the local worker and tests already use.
        urls.setdefault("queue", queue_url)
        urls.setdefault("dlq", dlq_url)
        urls[queue.name] = queue_url
        urls[queue.dlq_name] = dlq_url
    return urls


def create_all() -> None:
    create_tables()
    create_queues()


def empty_all() -> None:
    """Delete every item of every table and every queued message (tests, `make reset`).

    A dev tool, so it scans. Queues are recreated rather than purged: moto allows one purge
    a minute, and a message left in flight must not reappear after the reset.
    """
    cfg = settings()
    ddb = _dynamodb()
    create_all()  # a test may have deleted a table or queue
    for table in all_tables():
        keys = [k["AttributeName"] for k in table.key_schema]
        scan_args: dict[str, Any] = {
            "TableName": table.table_name,
            "ProjectionExpression": ", ".join(f"#k{i}" for i in range(len(keys))),
            "ExpressionAttributeNames": {f"#k{i}": k for i, k in enumerate(keys)},
        }
        while True:
            page = ddb.scan(**scan_args)
            items = page["Items"]
            for start in range(0, len(items), 25):
                ddb.batch_write_item(
                    RequestItems={
                        table.table_name: [{"DeleteRequest": {"Key": item}} for item in items[start : start + 25]]
                    }
                )
            if "LastEvaluatedKey" not in page:
                break
            scan_args["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    sqs = boto3.client("sqs", region_name=cfg.region, endpoint_url=cfg.sqs_endpoint)
    for url in sqs.list_queues().get("QueueUrls", []):
        sqs.delete_queue(QueueUrl=url)
    create_queues(sqs)
