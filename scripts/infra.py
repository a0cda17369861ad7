"""The CloudFormation merged into `chalice package`, generated from the code itself.

    python scripts/infra.py package --stage prod      # build/prod/: merge.json, sam.json, deployment.zip
    python scripts/infra.py merge-template --stage prod --out merge.json

Nothing here lists a table, queue or function by hand:
- tables come from `chalicelib.models.registry.all_models()` through `chalicelib/definitions.py`
  (the same definitions the local stack and the tests create their tables from);
- queues from `chalicelib.definitions.all_queues()` plus any queue an `@app.on_sqs_message`
  handler reads;
- functions (API handler, schedules, queue handlers) from the Chalice app object.
Each function gets its own IAM role with a least-privilege policy, its own encrypted log
group and alarms. Names reach the code through the stage's environment variables in
`.chalice/config.json` (TABLE_PREFIX, REVIEW_QUEUE_NAME, ...), which this template reuses.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from scripts import dashboard  # noqa: E402

DEFAULT_REGION = "cn-north-1"
LAMBDA_PRINCIPAL = "lambda.amazonaws.com"


# What differs between deployed stages beyond .chalice/config.json.
@dataclass(frozen=True)
class StageInfra:
    throttle_rate: int  # API requests per second, steady
    throttle_burst: int
    log_retention_days: int
    protect_data: bool  # deletion protection + Retain on tables, queues, keys


STAGES = {
    "dev": StageInfra(throttle_rate=50, throttle_burst=100, log_retention_days=30, protect_data=False),
    "prod": StageInfra(throttle_rate=500, throttle_burst=1000, log_retention_days=365, protect_data=True),
}

# Checks we skip on purpose; each reason is written into the template next to the resource.
SKIP_LAMBDA_VPC = {
    "id": "CKV_AWS_117",
    "comment": "No private resources to reach: DynamoDB, SQS, SNS and Secrets Manager are called over "
    "TLS with IAM; a VPC would add NAT cost and cold-start latency without reducing exposure.",
}
SKIP_LAMBDA_CONCURRENCY = {
    "id": "CKV_AWS_115",
    "comment": "Bounded elsewhere: API stage throttling for the API handler, the SQS event source for "
    "queue handlers, one EventBridge rule per schedule; reserved concurrency would carve capacity "
    "out of the account's shared pool.",
}
SKIP_LAMBDA_DLQ_SYNC = {
    "id": "CKV_AWS_116",
    "comment": "Invoked synchronously (API Gateway, or the SQS event source whose queue has its own "
    "dead-letter queue): a Lambda DLQ only catches asynchronous invocations.",
}
SKIP_LAMBDA_DLQ_SCHEDULE = {
    "id": "CKV_AWS_116",
    "comment": "Schedules are idempotent sweeps over due timers: a failed run leaves its timers due, "
    "the next run picks them up, and the Errors alarm pages; an event in a DLQ would have nothing to redo.",
}
SKIP_TABLE_PROTECTION = {
    "id": "CKV_PAYLATER_1",
    "comment": "Only prod tables are protected: dev tables hold test data and go with their stack.",
}
SKIP_API_CACHE = {
    "id": "CKV_AWS_120",
    "comment": "Responses are per user and money-moving; caching them at the gateway would serve one "
    "user's data to another or replay stale balances.",
}


# Grants a local run (`make iam-check`) cannot exercise, by statement Sid, and why they stay.
UNUSED_LOCALLY = {
    "OwnLogGroup": "Lambda's runtime writes the function's logs (tests/infra/test_infra.py checks the log group)",
    "Tracing": "Lambda's X-Ray daemon sends the traces; X-Ray has no resource-level permissions",
    "DataKey": "SQS, SNS and Lambda call KMS on the function's behalf (moto does not encrypt); "
    "tests/infra/test_infra.py checks the key",
}
# Table grants are access levels (chalicelib/grants.py): what a level holds beyond the calls a
# local run makes is there for the paths it does not reach (declines, races, retries, erasure).
LEVEL_REASON = "an access level of chalicelib/grants.py: covers paths the local run does not reach"
# The SNS topics functions may publish to (logical ids of _topics).
TOPICS = ("NotificationTopic",)


def camel(name: str) -> str:
    from chalicelib.definitions import camel as _camel

    return _camel(name)


def sub(text: str) -> dict[str, Any]:
    return {"Fn::Sub": text}


def get_att(logical_id: str, attr: str = "Arn") -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, attr]}


def ref(logical_id: str) -> dict[str, Any]:
    return {"Ref": logical_id}


@dataclass(frozen=True)
class Function:
    """One Lambda function of the Chalice app, as `chalice package` names it."""

    logical_id: str  # the resource name in the SAM template
    handler: str  # the Chalice handler name
    kind: str  # "api" | "schedule" | "sqs" | "other"
    function_name: str
    queue: str | None = None  # for "sqs": the queue it consumes
    event_id: str | None = None  # for "sqs": the event's key under Events


def functions(app: Any, app_name: str, stage: str) -> list[Function]:
    """Every Lambda function `chalice package` will emit for `app`."""
    from chalice.app import ScheduledEventConfig, SQSEventConfig
    from chalice.utils import to_cfn_resource_name

    found: list[Function] = []
    if app.routes:
        found.append(Function("APIHandler", "api_handler", "api", f"{app_name}-{stage}-api"))
    for source in app.event_sources:
        logical = to_cfn_resource_name(source.name)
        name = f"{app_name}-{stage}-{source.name.replace('_', '-')}"
        if isinstance(source, ScheduledEventConfig):
            found.append(Function(logical, source.name, "schedule", name))
        elif isinstance(source, SQSEventConfig):
            if source.queue is None:
                raise SystemExit(f"{source.name}: give on_sqs_message a queue name (the stage owns its queues)")
            event_id = to_cfn_resource_name(f"{source.name}-sqs-event-source")
            found.append(Function(logical, source.name, "sqs", name, queue=source.queue, event_id=event_id))
        else:
            raise SystemExit(f"{source.name}: {type(source).__name__} has no infrastructure in scripts/infra.py yet")
    for fn in app.pure_lambda_functions:
        found.append(Function(to_cfn_resource_name(fn.name), fn.name, "other", f"{app_name}-{stage}-{fn.name}"))
    for fn in found:
        if len(fn.function_name) > 64:
            raise SystemExit(f"{fn.function_name}: Lambda function names are at most 64 characters")
    return found


# --- the template -------------------------------------------------------------------------


class Template:
    def __init__(self, stage: str, infra: StageInfra, tags: dict[str, str]) -> None:
        self.stage = stage
        self.infra = infra
        self.tags = tags
        self.resources: dict[str, Any] = {}

    def add(self, logical_id: str, resource: dict[str, Any]) -> None:
        if logical_id in self.resources:
            raise SystemExit(f"two resources named {logical_id}")
        self.resources[logical_id] = resource

    def tag_list(self) -> list[dict[str, str]]:
        return [{"Key": k, "Value": v} for k, v in self.tags.items()]

    def retain(self) -> dict[str, str]:
        policy = "Retain" if self.infra.protect_data else "Delete"
        return {"DeletionPolicy": policy, "UpdateReplacePolicy": policy}


def _key(t: Template, app_name: str) -> None:
    """One customer-managed key for tables, queues, topics, logs and Lambda environments."""
    t.add(
        "DataKey",
        {
            "Type": "AWS::KMS::Key",
            **t.retain(),
            "Properties": {
                "Description": f"{app_name} {t.stage}: tables, queues, topics, logs, function environments",
                "EnableKeyRotation": True,
                "KeyPolicy": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "AccountAdministersThroughIam",
                            "Effect": "Allow",
                            "Principal": {"AWS": sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")},
                            "Action": "kms:*",
                            "Resource": "*",
                        },
                        {
                            "Sid": "LogsEncryptThisStagesLogGroups",
                            "Effect": "Allow",
                            "Principal": {"Service": sub("logs.${AWS::Region}.${AWS::URLSuffix}")},
                            "Action": [
                                "kms:Encrypt*",
                                "kms:Decrypt*",
                                "kms:ReEncrypt*",
                                "kms:GenerateDataKey*",
                                "kms:Describe*",
                            ],
                            "Resource": "*",
                            "Condition": {
                                "ArnLike": {
                                    "kms:EncryptionContext:aws:logs:arn": sub(
                                        "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*"
                                    )
                                }
                            },
                        },
                        {
                            "Sid": "AlarmsPublishToEncryptedTopics",
                            "Effect": "Allow",
                            "Principal": {"Service": "cloudwatch.amazonaws.com"},
                            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                            "Resource": "*",
                        },
                    ],
                },
                "Tags": t.tag_list(),
            },
        },
    )
    t.add(
        "DataKeyAlias",
        {
            "Type": "AWS::KMS::Alias",
            "Properties": {"AliasName": f"alias/{app_name}-{t.stage}", "TargetKeyId": ref("DataKey")},
        },
    )


def _tables(t: Template, tables: list[Any]) -> None:
    for table in tables:
        props: dict[str, Any] = {
            "TableName": table.table_name,
            "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": table.key_schema,
            "AttributeDefinitions": table.attribute_definitions,
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": ref("DataKey")},
            "DeletionProtectionEnabled": t.infra.protect_data,
            "Tags": t.tag_list(),
        }
        if table.global_indexes:
            props["GlobalSecondaryIndexes"] = table.global_indexes
        if table.local_indexes:
            props["LocalSecondaryIndexes"] = table.local_indexes
        if table.ttl_attribute:
            props["TimeToLiveSpecification"] = {"AttributeName": table.ttl_attribute, "Enabled": True}
        resource: dict[str, Any] = {"Type": "AWS::DynamoDB::Table", **t.retain(), "Properties": props}
        if not t.infra.protect_data:
            resource["Metadata"] = {"checkov": {"skip": [SKIP_TABLE_PROTECTION]}}
        t.add(table.logical_id, resource)


def _queues(t: Template, queues: list[Any]) -> None:
    for q in queues:
        t.add(
            q.dlq_logical_id,
            {
                "Type": "AWS::SQS::Queue",
                **t.retain(),
                "Properties": {
                    "QueueName": q.dlq_name,
                    "MessageRetentionPeriod": q.dlq_retention_seconds,
                    "KmsMasterKeyId": ref("DataKey"),
                    # Only its own work queue may move messages here.
                    "RedriveAllowPolicy": {
                        "redrivePermission": "byQueue",
                        "sourceQueueArns": [
                            sub(f"arn:${{AWS::Partition}}:sqs:${{AWS::Region}}:${{AWS::AccountId}}:{q.name}")
                        ],
                    },
                    "Tags": t.tag_list(),
                },
            },
        )
        t.add(
            q.logical_id,
            {
                "Type": "AWS::SQS::Queue",
                **t.retain(),
                "Properties": {
                    "QueueName": q.name,
                    "VisibilityTimeout": q.visibility_timeout,
                    "MessageRetentionPeriod": q.retention_seconds,
                    "KmsMasterKeyId": ref("DataKey"),
                    "RedrivePolicy": {
                        "deadLetterTargetArn": get_att(q.dlq_logical_id),
                        "maxReceiveCount": q.max_receives,
                    },
                    "Tags": t.tag_list(),
                },
            },
        )


def _topics(t: Template, app_name: str) -> None:
    t.add(
        "NotificationTopic",
        {
            "Type": "AWS::SNS::Topic",
            "Properties": {
                "TopicName": f"{app_name}-{t.stage}-notifications",
                "KmsMasterKeyId": ref("DataKey"),
                "Tags": t.tag_list(),
            },
        },
    )
    t.add(
        "AlarmTopic",
        {
            "Type": "AWS::SNS::Topic",
            "Properties": {
                "TopicName": f"{app_name}-{t.stage}-alarms",
                "KmsMasterKeyId": ref("DataKey"),
                "Tags": t.tag_list(),
            },
        },
    )
    t.add(
        "AlarmEmailSubscription",
        {
            "Type": "AWS::SNS::Subscription",
            "Condition": "HasAlarmEmail",
            "Properties": {"TopicArn": ref("AlarmTopic"), "Protocol": "email", "Endpoint": ref("AlarmEmail")},
        },
    )


def _table_statements(fn: Function, needs: Any, tables: list[Any]) -> list[dict[str, Any]]:
    """One statement per access level, over the tables and indexes `needs` names."""
    from chalicelib.grants import RETENTION_PURGE_FUNCTION

    by_name = {t.name: t for t in tables}
    by_actions: dict[tuple[str, ...], list[Any]] = {}
    for name in needs.why:
        if name not in needs.tables:
            raise SystemExit(f"chalicelib/grants.py: {fn.handler} gives a reason for {name!r}, which it is not granted")
    for name, actions in needs.tables.items():
        table_name, _, index = name.partition("/")
        table = by_name.get(table_name)
        if table is None:
            raise SystemExit(f"chalicelib/grants.py: {fn.handler} names {table_name!r}, which is no table")
        if index:
            if index not in table.index_names:
                raise SystemExit(f"chalicelib/grants.py: {fn.handler}: {table_name} has no index {index!r}")
            if tuple(actions) != ("Query",):
                raise SystemExit(f"chalicelib/grants.py: {fn.handler}: an index is only queried ({name})")
            arn: Any = sub(f"${{{table.logical_id}.Arn}}/index/{index}")
        else:
            arn = get_att(table.logical_id)
        changes = {"UpdateItem", "DeleteItem"} & set(actions)
        if table.append_only and changes and (changes != {"DeleteItem"} or fn.handler != RETENTION_PURGE_FUNCTION):
            raise SystemExit(f"chalicelib/grants.py: {fn.handler}: {table_name} is append-only ({sorted(changes)})")
        by_actions.setdefault(tuple(f"dynamodb:{a}" for a in actions), []).append(arn)
    return [
        {"Sid": f"Tables{n}", "Effect": "Allow", "Action": list(actions), "Resource": arns}
        for n, (actions, arns) in enumerate(sorted(by_actions.items(), key=lambda kv: (-len(kv[0]), kv[0])))
    ]


def _policy(fn: Function, needs: Any, tables: list[Any], queues: list[Any]) -> dict[str, Any]:
    """The least-privilege policy of one function, from its declaration in chalicelib/grants.py."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": "OwnLogGroup",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": get_att(f"{fn.logical_id}LogGroup"),
        },
        {
            # X-Ray has no resource-level permissions.
            "Sid": "Tracing",
            "Effect": "Allow",
            "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
            "Resource": "*",
        },
        *_table_statements(fn, needs, tables),
    ]
    known = {q.logical_id for q in queues}
    for q in needs.send:
        if q not in known:
            raise SystemExit(f"chalicelib/grants.py: {fn.handler} sends to {q!r}, which is no queue ({sorted(known)})")
    if needs.send:
        statements.append(
            {
                "Sid": "EnqueueWork",
                "Effect": "Allow",
                "Action": ["sqs:SendMessage", "sqs:GetQueueUrl"],
                "Resource": [get_att(q) for q in needs.send],
            }
        )
    if fn.kind == "sqs":
        consumed = [q for q in queues if q.name == fn.queue]
        statements.append(
            {
                "Sid": "ConsumeOwnQueue",
                "Effect": "Allow",
                "Action": [
                    "sqs:ReceiveMessage",
                    "sqs:DeleteMessage",
                    "sqs:ChangeMessageVisibility",
                    "sqs:GetQueueAttributes",
                    "sqs:GetQueueUrl",
                ],
                "Resource": [get_att(q.logical_id) for q in consumed],
            }
        )
    for topic in needs.publish:
        if topic not in TOPICS:
            raise SystemExit(f"chalicelib/grants.py: {fn.handler} publishes to {topic!r}, which is no topic")
    if needs.publish:
        topics: Any = [ref(t) for t in needs.publish]
        statements.append(
            {
                "Sid": "Notify",
                "Effect": "Allow",
                "Action": "sns:Publish",
                "Resource": topics[0] if len(topics) == 1 else topics,
            }
        )
    if needs.secret:
        statements.append(
            {
                "Sid": "StageSecret",
                "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                # Secret ARNs end in a random suffix the parameter may leave out.
                "Resource": sub("${PiiSecretArn}*"),
            }
        )
    # The key encrypts the function's environment (Decrypt at start), and the queues and topics
    # it sends to (GenerateDataKey; a queue's consumer Decrypts what it receives).
    kms = ["kms:Decrypt"] + (["kms:GenerateDataKey"] if needs.send or needs.publish else [])
    statements.append({"Sid": "DataKey", "Effect": "Allow", "Action": kms, "Resource": get_att("DataKey")})
    return {"Version": "2012-10-17", "Statement": statements}


def _function(
    t: Template, fn: Function, needs: Any, tables: list[Any], queues: list[Any], env: dict[str, Any]
) -> dict[str, Any]:
    """The role, log group and alarms of one function, and what to merge into its resource."""
    t.add(
        f"{fn.logical_id}LogGroup",
        {
            "Type": "AWS::Logs::LogGroup",
            "Properties": {
                "LogGroupName": f"/aws/lambda/{fn.function_name}",
                "RetentionInDays": t.infra.log_retention_days,
                "KmsKeyId": get_att("DataKey"),
                "Tags": t.tag_list(),
            },
        },
    )
    t.add(
        f"{fn.logical_id}Role",
        {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "Description": f"{fn.function_name}: least privilege, generated by scripts/infra.py",
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Principal": {"Service": LAMBDA_PRINCIPAL}, "Action": "sts:AssumeRole"}
                    ],
                },
                "Policies": [{"PolicyName": "least-privilege", "PolicyDocument": _policy(fn, needs, tables, queues)}],
                "Tags": t.tag_list(),
            },
        },
    )
    for metric, what in (("Errors", "failed invocations"), ("Throttles", "throttled invocations")):
        t.add(
            f"{fn.logical_id}{metric}Alarm",
            {
                "Type": "AWS::CloudWatch::Alarm",
                "Properties": {
                    "AlarmName": f"{fn.function_name}-{metric.lower()}",
                    "AlarmDescription": (
                        f"{fn.function_name} had {what} in the last 5 minutes (see docs/operations.md: Alarms)."
                    ),
                    "Namespace": "AWS/Lambda",
                    "MetricName": metric,
                    "Dimensions": [{"Name": "FunctionName", "Value": ref(fn.logical_id)}],
                    "Statistic": "Sum",
                    "Period": 300,
                    "EvaluationPeriods": 1,
                    "Threshold": 1,
                    "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                    "TreatMissingData": "notBreaching",
                    "AlarmActions": [ref("AlarmTopic")],
                    "OKActions": [ref("AlarmTopic")],
                },
            },
        )
    skips = [SKIP_LAMBDA_VPC, SKIP_LAMBDA_CONCURRENCY]
    skips.append(SKIP_LAMBDA_DLQ_SCHEDULE if fn.kind == "schedule" else SKIP_LAMBDA_DLQ_SYNC)
    merged: dict[str, Any] = {
        "DependsOn": [f"{fn.logical_id}LogGroup"],
        "Metadata": {"checkov": {"skip": skips}},
        "Properties": {
            "FunctionName": fn.function_name,
            "Role": get_att(f"{fn.logical_id}Role"),
            "KmsKeyArn": get_att("DataKey"),
            "Environment": {"Variables": env},
        },
    }
    if fn.kind == "sqs":
        assert fn.event_id is not None
        # Chalice names the queue by ARN text, which orders nothing: create the queue first.
        merged["DependsOn"] += [q.logical_id for q in queues if q.name == fn.queue]
        # Chalice has no option for partial batch responses: failed records alone are retried.
        merged["Properties"]["Events"] = {
            fn.event_id: {"Properties": {"FunctionResponseTypes": ["ReportBatchItemFailures"]}}
        }
    return merged


def _queue_alarms(t: Template, queues: list[Any]) -> None:
    for q in queues:
        t.add(
            f"{q.dlq_logical_id}NotEmptyAlarm",
            {
                "Type": "AWS::CloudWatch::Alarm",
                "Properties": {
                    "AlarmName": f"{q.dlq_name}-not-empty",
                    "AlarmDescription": f"Messages of {q.name} failed {q.max_receives} times and wait in {q.dlq_name}.",
                    "Namespace": "AWS/SQS",
                    "MetricName": "ApproximateNumberOfMessagesVisible",
                    "Dimensions": [{"Name": "QueueName", "Value": get_att(q.dlq_logical_id, "QueueName")}],
                    "Statistic": "Maximum",
                    "Period": 300,
                    "EvaluationPeriods": 1,
                    "Threshold": 1,
                    "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                    "TreatMissingData": "notBreaching",
                    "AlarmActions": [ref("AlarmTopic")],
                    "OKActions": [ref("AlarmTopic")],
                },
            },
        )
        t.add(
            f"{q.logical_id}AgeAlarm",
            {
                "Type": "AWS::CloudWatch::Alarm",
                "Properties": {
                    "AlarmName": f"{q.name}-stale",
                    "AlarmDescription": f"The oldest message on {q.name} has waited an hour: is its handler running?",
                    "Namespace": "AWS/SQS",
                    "MetricName": "ApproximateAgeOfOldestMessage",
                    "Dimensions": [{"Name": "QueueName", "Value": get_att(q.logical_id, "QueueName")}],
                    "Statistic": "Maximum",
                    "Period": 300,
                    "EvaluationPeriods": 3,
                    "Threshold": 3600,
                    "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                    "TreatMissingData": "notBreaching",
                    "AlarmActions": [ref("AlarmTopic")],
                    "OKActions": [ref("AlarmTopic")],
                },
            },
        )


# Daily checks that report, never fix: (logical id, alarm name suffix, metric, description).
BUSINESS_ALARMS = (
    (
        "LedgerDriftAlarm",
        "ledger-drift",
        "LedgerDrift",
        "Reconciliation found stored balances that differ from the sum of their "
        "wallet entries (metric LedgerDrift). Money may be wrong: stop and investigate.",
    ),
    (
        "ObligationWithoutTimerAlarm",
        "obligation-without-timer",
        "ObligationWithoutTimer",
        "check_obligations found orders that owe money or await receipt with no timer that will act "
        "on them (metric ObligationWithoutTimer; the order ids are in its error log). A debt is being "
        "forgotten: find the transition that dropped its timer.",
    ),
    (
        "DisputeLateAlarm",
        "dispute-late",
        "DisputesLate",
        "A dispute (平台介入) is undecided past support's deadline (metric DisputesLate; the dispute ids "
        "are in advance_aftersale's warning log, and first in the console's disputes list). The order is "
        "paused until support decides: decide it.",
    ),
)


def _business_alarms(t: Template, app_name: str, service: str, namespace: str) -> None:
    for logical_id, suffix, metric, description in BUSINESS_ALARMS:
        _business_alarm(t, logical_id, f"{app_name}-{t.stage}-{suffix}", metric, description, service, namespace)
    _risk_decline_alarm(t, f"{app_name}-{t.stage}-risk-decline-rate", service, namespace)


# An hour with at least this many 先用后付 decisions, more than this share of them declined,
# twice in a row: a rule (or its input) is probably broken, and good customers are refused.
RISK_DECLINE_MIN_DECISIONS = 20
RISK_DECLINE_RATE_PCT = 30


def _risk_decline_alarm(t: Template, name: str, service: str, namespace: str) -> None:
    def outcome(o: str) -> dict[str, Any]:
        metric = {
            "Namespace": namespace,
            "MetricName": "RiskDecisions",
            "Dimensions": [{"Name": "Outcome", "Value": o}, {"Name": "service", "Value": service}],
        }
        return {"Id": o, "MetricStat": {"Metric": metric, "Period": 3600, "Stat": "Sum"}, "ReturnData": False}

    total = "FILL(approve, 0) + FILL(review, 0) + FILL(decline, 0)"
    rate = f"IF({total} >= {RISK_DECLINE_MIN_DECISIONS}, 100 * FILL(decline, 0) / ({total}), 0)"
    t.add(
        "RiskDeclineRateAlarm",
        {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmName": name,
                "AlarmDescription": f"More than {RISK_DECLINE_RATE_PCT} % of 先用后付 confirmations were declined by "
                "the risk rules two hours running (metric RiskDecisions by Outcome; RiskRuleMatches says which "
                "rule). A rule or its input may be broken: see GET /v1/risk/stats and docs/walks.md: risk decisions.",
                "Metrics": [
                    outcome("approve"),
                    outcome("review"),
                    outcome("decline"),
                    {"Id": "rate", "Expression": rate, "Label": "decline rate %", "ReturnData": True},
                ],
                "EvaluationPeriods": 2,
                "DatapointsToAlarm": 2,
                "Threshold": RISK_DECLINE_RATE_PCT,
                "ComparisonOperator": "GreaterThanThreshold",
                "TreatMissingData": "notBreaching",
                "AlarmActions": [ref("AlarmTopic")],
                "OKActions": [ref("AlarmTopic")],
            },
        },
    )


def _business_alarm(
    t: Template, logical_id: str, name: str, metric: str, description: str, service: str, namespace: str
) -> None:
    t.add(
        logical_id,
        {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmName": name,
                "AlarmDescription": description,
                "Namespace": namespace,
                "MetricName": metric,
                "Dimensions": [{"Name": "service", "Value": service}],
                "Statistic": "Sum",
                "Period": 3600,
                "EvaluationPeriods": 1,
                "Threshold": 1,
                "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                "TreatMissingData": "notBreaching",
                "AlarmActions": [ref("AlarmTopic")],
                "OKActions": [ref("AlarmTopic")],
            },
        },
    )


def _api(t: Template, app_name: str) -> dict[str, Any]:
    t.add(
        "ApiAccessLogGroup",
        {
            "Type": "AWS::Logs::LogGroup",
            "Properties": {
                "LogGroupName": f"/aws/apigateway/{app_name}-{t.stage}-access",
                "RetentionInDays": t.infra.log_retention_days,
                "KmsKeyId": get_att("DataKey"),
                "Tags": t.tag_list(),
            },
        },
    )
    # API Gateway writes logs through one role per account and region.
    t.add(
        "ApiGatewayLoggingRole",
        {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "Description": "API Gateway account setting: lets API Gateway write access logs",
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "apigateway.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                },
                "ManagedPolicyArns": [
                    sub("arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs")
                ],
            },
        },
    )
    t.add(
        "ApiGatewayAccount",
        {"Type": "AWS::ApiGateway::Account", "Properties": {"CloudWatchRoleArn": get_att("ApiGatewayLoggingRole")}},
    )
    t.add(
        "ApiServerErrorsAlarm",
        {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "AlarmName": f"{app_name}-{t.stage}-api-5xx",
                "AlarmDescription": "The API answered 5 or more 5xx responses in 5 minutes.",
                "Namespace": "AWS/ApiGateway",
                "MetricName": "5XXError",
                "Dimensions": [{"Name": "ApiName", "Value": app_name}, {"Name": "Stage", "Value": t.stage}],
                "Statistic": "Sum",
                "Period": 300,
                "EvaluationPeriods": 1,
                "Threshold": 5,
                "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                "TreatMissingData": "notBreaching",
                "AlarmActions": [ref("AlarmTopic")],
                "OKActions": [ref("AlarmTopic")],
            },
        },
    )
    access_format = {
        "requestId": "$context.requestId",
        "time": "$context.requestTimeEpoch",
        "method": "$context.httpMethod",
        "route": "$context.resourcePath",
        "status": "$context.status",
        "bytes": "$context.responseLength",
        "latencyMs": "$context.responseLatency",
        "integrationLatencyMs": "$context.integrationLatency",
        "error": "$context.error.responseType",
        "traceId": "$context.xrayTraceId",
    }
    return {
        "DependsOn": ["ApiGatewayAccount"],
        "Metadata": {"checkov": {"skip": [SKIP_API_CACHE]}},
        "Properties": {
            "GatewayResponses": gateway_responses(),
            "TracingEnabled": True,
            "AccessLogSetting": {
                "DestinationArn": get_att("ApiAccessLogGroup"),
                "Format": json.dumps(access_format, separators=(",", ":")),
            },
            "MethodSettings": [
                {
                    "ResourcePath": "/*",
                    "HttpMethod": "*",
                    "ThrottlingRateLimit": t.infra.throttle_rate,
                    "ThrottlingBurstLimit": t.infra.throttle_burst,
                    "MetricsEnabled": True,
                    "DataTraceEnabled": False,
                }
            ],
        },
    }


# What a Gateway Response writes where the code writes its request id.
GATEWAY_REQUEST_ID = "$context.requestId"


def gateway_responses() -> dict[str, Any]:
    """API Gateway's own answers (throttling, unknown routes, its 5xx) as the code's
    problem+json (`chalicelib.edge.GATEWAY_ANSWERS`), in SAM's `GatewayResponses` form."""
    from chalicelib.edge import GATEWAY_ANSWERS, with_request_id
    from chalicelib.errors import PROBLEM_JSON

    answers: dict[str, Any] = {}
    for response_type, answer in GATEWAY_ANSWERS.items():
        headers = {"Content-Type": PROBLEM_JSON, **answer.headers}
        answers[response_type] = {
            "StatusCode": str(answer.status),
            "ResponseParameters": {"Headers": {name: f"'{value}'" for name, value in headers.items()}},
            "ResponseTemplates": {
                "application/json": with_request_id(answer.render(), GATEWAY_REQUEST_ID),
                PROBLEM_JSON: with_request_id(answer.render(), GATEWAY_REQUEST_ID),
            },
        }
    return answers


def build(stage: str, app: Any, region: str = DEFAULT_REGION, grants: dict[str, Any] | None = None) -> dict[str, Any]:
    """The merge template for `stage`, from the stage's configuration, the models, `app` and
    what each function declares it calls (chalicelib/grants.py, or `grants`)."""
    from chalicelib.config import load, settings, stage_environment
    from chalicelib.definitions import VISIBILITY_TIMEOUT_SECONDS, QueueDef, all_queues, all_tables
    from chalicelib.grants import GRANTS

    if stage not in STAGES:
        raise SystemExit(f"no infrastructure for stage {stage!r}: deployed stages are {', '.join(STAGES)}")
    env = stage_environment(stage)
    cfg = load({**env, "AWS_REGION": region})
    chalice_cfg = json.loads((ROOT / ".chalice" / "config.json").read_text(encoding="utf-8"))
    app_name = chalice_cfg["app_name"]
    timeout = int(chalice_cfg["stages"][stage].get("lambda_timeout", chalice_cfg.get("lambda_timeout", 3)))
    if VISIBILITY_TIMEOUT_SECONDS < timeout:
        raise SystemExit("queue visibility timeout is shorter than the Lambda timeout: SQS would redeliver mid-run")

    t = Template(stage, STAGES[stage], {"app": app_name, "stage": stage})
    # Table names come from the stage's TABLE_PREFIX, the same variable the code reads.
    tables = [dataclasses.replace(td, table_name=cfg.table(td.name)) for td in all_tables()]
    queues = list(all_queues(cfg))
    fns = functions(app, app_name, stage)
    # An app imported under another stage's settings (the tests import it as `local`)
    # names that stage's queues in its queue handlers: they are this stage's ones.
    imported = settings()
    same = {q.name: mine.name for q, mine in zip(all_queues(imported), queues, strict=True)}
    fns = [dataclasses.replace(fn, queue=same[fn.queue]) if fn.kind == "sqs" and fn.queue in same else fn for fn in fns]
    for fn in fns:
        if fn.kind == "sqs" and fn.queue not in {q.name for q in queues}:
            dlq = f"{fn.queue}-dlq"
            queues.append(QueueDef(name=str(fn.queue), dlq_name=dlq, logical_id=f"{camel(str(fn.queue))}Queue"))

    _key(t, app_name)
    _tables(t, tables)
    _queues(t, queues)
    _topics(t, app_name)
    env_overrides = {
        "NOTIFICATION_TOPIC_ARN": ref("NotificationTopic"),
        "PII_SECRET_ARN": ref("PiiSecretArn"),
        "JWT_ISSUER": ref("JwtIssuer"),
        "JWT_AUDIENCE": ref("JwtAudience"),
        "CONSOLE_COGNITO_DOMAIN": ref("ConsoleCognitoDomain"),
        "CONSOLE_CLIENT_ID": ref("ConsoleClientId"),
    }
    grants = GRANTS if grants is None else grants
    missing = [fn.handler for fn in fns if fn.handler not in grants]
    if missing:
        raise SystemExit(f"chalicelib/grants.py: no grants for {', '.join(missing)}: declare what each calls in AWS")
    merged_functions = {
        fn.logical_id: _function(t, fn, grants[fn.handler], tables, queues, env_overrides) for fn in fns
    }
    _queue_alarms(t, queues)
    service, namespace = (
        env.get("POWERTOOLS_SERVICE_NAME", app_name),
        env.get("POWERTOOLS_METRICS_NAMESPACE", "PayLater"),
    )
    _business_alarms(t, app_name, service, namespace)
    t.add(
        "OperationsDashboard",
        dashboard.resource(
            dashboard_name=f"{app_name}-{stage}",
            namespace=namespace,
            service=service,
            review_queue=cfg.review_queue_name,
            review_dlq=cfg.review_dlq_name,
        ),
    )
    api_merge = _api(t, app_name) if any(fn.kind == "api" for fn in fns) else None
    resources = dict(t.resources)
    if api_merge is not None:
        resources["RestAPI"] = api_merge
    resources.update(merged_functions)

    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"{app_name} {stage}: API, schedules, review queue, tables, alarms (scripts/infra.py)",
        "Parameters": {
            "JwtIssuer": {
                "Type": "String",
                "Description": "Issuer of the app's tokens: the Cognito user pool URL "
                "(https://cognito-idp.<region>.amazonaws.com/<pool id>); its JWKS verifies every token",
                "AllowedPattern": "^https://.+$",
            },
            "JwtAudience": {"Type": "String", "Description": "The user pool's app client id", "MinLength": 1},
            "ConsoleCognitoDomain": {
                "Type": "String",
                "Default": "",
                "Description": "The web console's hosted UI domain (<prefix>.auth.<region>.amazoncognito.com); "
                "empty: the console cannot sign in",
            },
            "ConsoleClientId": {
                "Type": "String",
                "Default": "",
                "Description": "The console's app client (public, authorization code + PKCE, callback "
                "https://<api>/<stage>/console/); its ID tokens are accepted beside JwtAudience's",
            },
            "PiiSecretArn": {
                "Type": "String",
                "Description": "Secrets Manager secret (JSON) holding PII_HASH_KEY, PII_DATA_KEY, CURSOR_SECRET "
                "and the payment channels' keys",
                "AllowedPattern": "^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+$",
            },
            "AlarmEmail": {
                "Type": "String",
                "Default": "",
                "Description": "Who gets the alarms by email (empty: subscribe to the alarm topic yourself)",
            },
        },
        "Conditions": {"HasAlarmEmail": {"Fn::Not": [{"Fn::Equals": [ref("AlarmEmail"), ""]}]}},
        "Resources": resources,
        "Outputs": {
            "AlarmTopicArn": {"Value": ref("AlarmTopic")},
            "NotificationTopicArn": {"Value": ref("NotificationTopic")},
            "DataKeyArn": {"Value": get_att("DataKey")},
        },
    }


def deploy_parameters(stage: str) -> dict[str, str]:
    """Suggested parameter values, from the stage's `.chalice/config.json` environment."""
    from chalicelib.config import stage_environment

    env = stage_environment(stage)
    return {
        "JwtIssuer": env.get("JWT_ISSUER", "<https://cognito-idp.REGION.amazonaws.com/POOL_ID>"),
        "JwtAudience": env.get("JWT_AUDIENCE", "<app client id>"),
        "ConsoleCognitoDomain": env.get("CONSOLE_COGNITO_DOMAIN", "<hosted UI domain>"),
        "ConsoleClientId": env.get("CONSOLE_CLIENT_ID", "<console app client id>"),
        "PiiSecretArn": env.get("PII_SECRET_ARN", "<arn of the stage secret>"),
        "AlarmEmail": "<ops@your-company>",
    }


# --- commands -----------------------------------------------------------------------------


def _stage_environ(stage: str, region: str) -> dict[str, str]:
    from chalicelib.config import stage_environment

    environ = dict(os.environ)
    for name in list(environ):
        if name.startswith("AWS_ENDPOINT_URL") or name in ("DYNAMODB_ENDPOINT", "SQS_ENDPOINT"):
            del environ[name]
    environ.update(stage_environment(stage))
    environ.setdefault("AWS_DEFAULT_REGION", region)
    environ.setdefault("AWS_REGION", environ["AWS_DEFAULT_REGION"])
    return environ


def load_app(stage: str, region: str) -> Any:
    """The Chalice app as `chalice package` sees it for `stage`."""
    environ = _stage_environ(stage, region)
    for name in set(os.environ) - set(environ):
        del os.environ[name]
    os.environ.update(environ)
    import app as app_module

    return app_module.app


def write_merge_template(stage: str, out: Path, region: str) -> dict[str, Any]:
    template = build(stage, load_app(stage, region), region)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(template, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return template


def verify_packaged(sam: dict[str, Any], stage: str) -> list[str]:
    """What would make the packaged template unfit to deploy (empty: fit)."""
    problems: list[str] = []
    text = json.dumps(sam)
    if "/v1/dev" in text:
        problems.append("the packaged template has a /v1/dev route (the dev router is local-stage only)")
    if "set-per-function-by-scripts-infra-py" in text:
        problems.append("a function kept the placeholder role of .chalice/config.json")
    for name, res in sam["Resources"].items():
        if res["Type"] == "AWS::Serverless::Function":
            role = res["Properties"].get("Role")
            if role != {"Fn::GetAtt": [f"{name}Role", "Arn"]}:
                problems.append(f"{name} does not use its own least-privilege role")
            for ev_name, ev in (res["Properties"].get("Events") or {}).items():
                if ev["Type"] == "SQS" and ev["Properties"].get("FunctionResponseTypes") != ["ReportBatchItemFailures"]:
                    problems.append(f"{name}.{ev_name} does not report batch item failures")
    return problems


LAMBDA_TASK_ROOT = "/var/task"  # where Lambda unpacks the zip (tracebacks name files there)


def ship_bytecode(zip_path: Path, runtimes: set[str]) -> int:
    """Add each module's bytecode to the zip (`__pycache__/*.pyc`, unchecked-hash: used
    without comparing the source's mtime, which a zip does not keep exactly). Chalice ships
    sources only and Lambda's task root is read-only, so every cold start compiled every
    module it imported (`make bench`, imports: a first order read ~2.5x slower). The
    functions run this interpreter's version, as `chalice package` chose it. A file no
    import can load (a template, a Python 2 script) stays source only. Returns the number
    of modules compiled."""
    import compileall
    import py_compile
    import tempfile

    here = f"python{sys.version_info.major}.{sys.version_info.minor}"
    if runtimes != {here}:
        raise SystemExit(f"the functions run {sorted(runtimes)}, this interpreter is {here}: no bytecode shipped")
    unchecked = py_compile.PycInvalidationMode.UNCHECKED_HASH
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(zip_path, "a", zipfile.ZIP_DEFLATED) as zf:
        zf.extractall(tmp, [n for n in zf.namelist() if n.endswith(".py")])
        compileall.compile_dir(tmp, ddir=LAMBDA_TASK_ROOT, quiet=2, workers=1, invalidation_mode=unchecked)
        compiled = sorted(Path(tmp).rglob("*.pyc"))
        for pyc in compiled:
            zf.write(pyc, pyc.relative_to(tmp).as_posix())
    return len(compiled)


def package(stage: str, region: str, out_dir: Path) -> int:
    merge_path = out_dir / "merge.json"
    write_merge_template(stage, merge_path, region)
    pkg_dir = out_dir / "package"
    if pkg_dir.exists():
        shutil.rmtree(pkg_dir)
    chalice = Path(sys.executable).with_name("chalice")
    cmd = [str(chalice), "package", "--stage", stage, "--merge-template", str(merge_path), "--template-format", "json"]
    subprocess.run([*cmd, str(pkg_dir)], cwd=ROOT, env=_stage_environ(stage, region), check=True)
    sam = json.loads((pkg_dir / "sam.json").read_text(encoding="utf-8"))
    problems = verify_packaged(sam, stage)
    for p in problems:
        print(f"packaged template: {p}", file=sys.stderr)
    if problems:
        return 1
    zip_path = pkg_dir / "deployment.zip"
    runtimes = {
        r["Properties"]["Runtime"] for r in sam["Resources"].values() if r["Type"] == "AWS::Serverless::Function"
    }
    compiled = ship_bytecode(zip_path, runtimes)
    with zipfile.ZipFile(zip_path) as zf:
        unzipped = sum(i.file_size for i in zf.infolist())
        shipped = sorted(
            {i.filename.split("/")[0] for i in zf.infolist() if i.filename.startswith(("boto3/", "botocore/"))}
        )
    params = " ".join(f"{k}={v}" for k, v in deploy_parameters(stage).items())
    rel = pkg_dir.relative_to(ROOT) if pkg_dir.is_relative_to(ROOT) else pkg_dir
    print(
        f"\npackaged {stage}: {rel}/sam.json, {rel}/deployment.zip "
        f"({zip_path.stat().st_size / 1e6:.1f} MB zipped, {unzipped / 1e6:.1f} MB unzipped; "
        f"ships {', '.join(shipped) or 'no boto3/botocore'}; bytecode of {compiled} modules)\n"
        "deploy:\n"
        f"  aws cloudformation package --template-file {rel}/sam.json --s3-bucket <artifact bucket> "
        f"--output-template-file {rel}/packaged.json --use-json\n"
        f"  aws cloudformation deploy --template-file {rel}/packaged.json --stack-name {sam_stack(stage)} "
        "--capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND \\\n"
        f"    --parameter-overrides {params}"
    )
    return 0


def sam_stack(stage: str) -> str:
    return f"paylater-{stage}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub_cmds = parser.add_subparsers(dest="command", required=True)
    for name in ("package", "merge-template"):
        p = sub_cmds.add_parser(name)
        p.add_argument("--stage", default="prod", choices=sorted(STAGES))
        p.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION", DEFAULT_REGION))
        if name == "package":
            p.add_argument("--out", type=Path, default=None, help="default: build/<stage>")
        else:
            p.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.command == "merge-template":
        write_merge_template(args.stage, args.out, args.region)
        return 0
    return package(args.stage, args.region, (args.out or ROOT / "build" / args.stage).resolve())


if __name__ == "__main__":
    sys.exit(main())
