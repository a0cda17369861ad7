"""The stage's AWS resources as data: every table (read from the PynamoDB models) and the
queues with their dead-letter queues.

One definition feeds both the CloudFormation template (`scripts/infra.py`) and the tables
and queues the local stack and the tests create (`chalicelib/local/resources.py`), so the
deployed schema and the tested one cannot drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pynamodb.attributes import NumberAttribute, TTLAttribute
from pynamodb.models import Model

from .config import Settings, settings

# After this many receives a message goes to the dead-letter queue.
MAX_RECEIVES = 5
# AWS advises a queue visibility timeout of six times the consuming Lambda's timeout
# (`lambda_timeout` in .chalice/config.json, 60 s); scripts/infra.py checks it.
VISIBILITY_TIMEOUT_SECONDS = 360
QUEUE_RETENTION_SECONDS = 4 * 86400
DLQ_RETENTION_SECONDS = 14 * 86400  # the SQS maximum: time to look at what failed


def camel(name: str) -> str:
    """`idempotency-records` → `IdempotencyRecords` (a CloudFormation logical id part)."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", name) if part)


def _key_schema(elements: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    # DynamoDB wants the HASH element first; PynamoDB lists index keys in any order.
    ordered = sorted(elements, key=lambda e: 0 if e["KeyType"] == "HASH" else 1)
    return [{"AttributeName": e["AttributeName"], "KeyType": e["KeyType"]} for e in ordered]


def _projection(raw: Mapping[str, Any]) -> dict[str, Any]:
    projection = {"ProjectionType": raw["ProjectionType"]}
    if raw.get("NonKeyAttributes"):
        projection["NonKeyAttributes"] = list(raw["NonKeyAttributes"])
    return projection


@dataclass(frozen=True)
class TableDef:
    """One DynamoDB table, in the shape CreateTable and CloudFormation both take."""

    name: str  # short name, e.g. "orders"
    table_name: str  # the stage's name, e.g. "paylater-prod-orders"
    model: type[Model]
    key_schema: list[dict[str, str]]
    attribute_definitions: list[dict[str, str]]
    global_indexes: list[dict[str, Any]] = field(default_factory=list)
    local_indexes: list[dict[str, Any]] = field(default_factory=list)
    ttl_attribute: str | None = None
    append_only: bool = False

    @property
    def logical_id(self) -> str:
        return f"{camel(self.name)}Table"

    @property
    def index_names(self) -> list[str]:
        return [i["IndexName"] for i in self.global_indexes + self.local_indexes]

    def create_table_args(self) -> dict[str, Any]:
        """Keyword arguments for boto3's `create_table` (on-demand billing)."""
        args: dict[str, Any] = {
            "TableName": self.table_name,
            "KeySchema": self.key_schema,
            "AttributeDefinitions": self.attribute_definitions,
            "BillingMode": "PAY_PER_REQUEST",
        }
        if self.global_indexes:
            args["GlobalSecondaryIndexes"] = self.global_indexes
        if self.local_indexes:
            args["LocalSecondaryIndexes"] = self.local_indexes
        return args


def _ttl_attribute(model: type[Model]) -> str | None:
    declared: str | None = getattr(model.Meta, "ttl_attribute", None)
    found = [attr.attr_name for attr in model.get_attributes().values() if isinstance(attr, TTLAttribute)]
    if declared is not None:
        attr = model.get_attributes().get(declared)
        if not isinstance(attr, NumberAttribute | TTLAttribute):
            raise ValueError(f"{model.__name__}: TTL attribute {declared!r} must be a number of epoch seconds")
        found = sorted({*found, attr.attr_name})
    if len(found) > 1:
        raise ValueError(f"{model.__name__}: a table has one TTL attribute, found {found}")
    return found[0] if found else None


def table_def(model: type[Model]) -> TableDef:
    schema = model._get_schema()
    meta = model.Meta
    table_name: str = meta.table_name
    name: str = getattr(meta, "resource_name", None) or table_name
    return TableDef(
        name=name,
        table_name=table_name,
        model=model,
        key_schema=_key_schema(schema["key_schema"]),
        attribute_definitions=sorted(
            (
                {"AttributeName": a["AttributeName"], "AttributeType": a["AttributeType"]}
                for a in schema["attribute_definitions"]
            ),
            key=lambda a: a["AttributeName"],
        ),
        global_indexes=[
            {
                "IndexName": i["index_name"],
                "KeySchema": _key_schema(i["key_schema"]),
                "Projection": _projection(i["projection"]),
            }
            for i in schema.get("global_secondary_indexes", [])
        ],
        local_indexes=[
            {
                "IndexName": i["index_name"],
                "KeySchema": _key_schema(i["key_schema"]),
                "Projection": _projection(i["projection"]),
            }
            for i in schema.get("local_secondary_indexes", [])
        ],
        ttl_attribute=_ttl_attribute(model),
        append_only=bool(getattr(meta, "append_only", False)),
    )


def all_tables() -> list[TableDef]:
    """Every table of the stage, from `chalicelib.models.registry.all_models()`."""
    from .models.registry import all_models

    tables = [table_def(m) for m in all_models()]
    seen: set[str] = set()
    for t in tables:
        if t.logical_id in seen:
            raise ValueError(f"two models share the table {t.name!r}")
        seen.add(t.logical_id)
    return tables


@dataclass(frozen=True)
class QueueDef:
    """A work queue and the dead-letter queue its failures move to."""

    name: str
    dlq_name: str
    logical_id: str
    max_receives: int = MAX_RECEIVES
    visibility_timeout: int = VISIBILITY_TIMEOUT_SECONDS
    retention_seconds: int = QUEUE_RETENTION_SECONDS
    dlq_retention_seconds: int = DLQ_RETENTION_SECONDS

    @property
    def dlq_logical_id(self) -> str:
        return f"{self.logical_id}DeadLetter"


def all_queues(cfg: Settings | None = None) -> list[QueueDef]:
    """Every queue of the stage: the redemption review queue and the webhook delivery queue."""
    cfg = cfg or settings()
    return [
        QueueDef(name=cfg.review_queue_name, dlq_name=cfg.review_dlq_name, logical_id="ReviewQueue"),
        QueueDef(name=cfg.webhook_queue_name, dlq_name=cfg.webhook_dlq_name, logical_id="WebhookQueue"),
    ]
