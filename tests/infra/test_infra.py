"""The deployable template is generated from the code: every model's table, every queue,
every function with its own least-privilege role, and the alarms. These tests build the
merge template in process (no AWS, no packaging); tests/infra/test_packaged_template.py checks
what `chalice package` made of it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import boto3
import pytest
from chalice.app import Chalice, Rate
from pynamodb.attributes import TTLAttribute, UnicodeAttribute
from pynamodb.models import Model

from chalicelib.config import load, settings, stage_environment
from chalicelib.db import table_meta
from chalicelib.definitions import MAX_RECEIVES, all_queues, all_tables, table_def
from chalicelib.models.registry import all_models
from tests.support.infra import infra

ROOT = Path(__file__).resolve().parents[2]


def _resources_of(template: dict[str, Any], type_: str) -> dict[str, Any]:
    return {k: v for k, v in template["Resources"].items() if v.get("Type") == type_}


@pytest.fixture(scope="module")
def prod(app_module: Any) -> dict[str, Any]:
    return infra.build("prod", app_module.app)


@pytest.fixture(scope="module")
def worker_app() -> Chalice:
    """An app with the handlers other parts add (a schedule and a review queue handler)."""
    app = Chalice(app_name="paylater")
    queue = stage_environment("prod")["REVIEW_QUEUE_NAME"]

    @app.route("/v1/health")
    def health() -> dict[str, str]:
        return {}

    @app.schedule(Rate(5, unit=Rate.MINUTES))
    def close_payment_windows(event: Any) -> None:
        return None

    @app.on_sqs_message(queue=queue, batch_size=10)
    def review_redemptions(event: Any) -> None:
        return None

    return app


def _statements(template: dict[str, Any], function: str) -> list[dict[str, Any]]:
    role = template["Resources"][f"{function}Role"]
    return [s for p in role["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_every_model_has_a_table_named_from_the_stage_prefix(prod: dict[str, Any]) -> None:
    tables = _resources_of(prod, "AWS::DynamoDB::Table")
    prefix = stage_environment("prod")["TABLE_PREFIX"]
    names = {t["Properties"]["TableName"] for t in tables.values()}
    assert names == {f"{prefix}-{m.Meta.resource_name}" for m in all_models()}
    assert len(tables) == len(all_models())


def test_tables_are_on_demand_encrypted_recoverable_and_protected_in_prod(prod: dict[str, Any]) -> None:
    for name, table in _resources_of(prod, "AWS::DynamoDB::Table").items():
        props = table["Properties"]
        assert props["BillingMode"] == "PAY_PER_REQUEST", name
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert props["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": {"Ref": "DataKey"}}
        assert props["DeletionProtectionEnabled"] is True
        assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"


def test_dev_tables_can_be_torn_down(app_module: Any) -> None:
    dev = infra.build("dev", app_module.app)
    for table in _resources_of(dev, "AWS::DynamoDB::Table").values():
        assert table["Properties"]["DeletionProtectionEnabled"] is False
        assert table["Properties"]["TableName"].startswith(stage_environment("dev")["TABLE_PREFIX"] + "-")


def test_deployed_key_schema_is_the_one_the_tests_run_on(prod: dict[str, Any]) -> None:
    """The tables the tests use were created from the same definitions as the template."""
    ddb = boto3.client("dynamodb", region_name=settings().region)
    template_tables = {
        t["Properties"]["TableName"].split("-", 2)[2]: t["Properties"]
        for t in _resources_of(prod, "AWS::DynamoDB::Table").values()
    }
    for td in all_tables():
        live = ddb.describe_table(TableName=td.table_name)["Table"]
        props = template_tables[td.name]
        assert live["KeySchema"] == props["KeySchema"]
        assert sorted(live["AttributeDefinitions"], key=lambda a: a["AttributeName"]) == props["AttributeDefinitions"]
        live_gsis = {g["IndexName"]: (g["KeySchema"], g["Projection"]) for g in live.get("GlobalSecondaryIndexes", [])}
        assert live_gsis == {
            g["IndexName"]: (g["KeySchema"], g["Projection"]) for g in props.get("GlobalSecondaryIndexes", [])
        }
        live_lsis = {i["IndexName"]: i["KeySchema"] for i in live.get("LocalSecondaryIndexes", [])}
        assert live_lsis == {i["IndexName"]: i["KeySchema"] for i in props.get("LocalSecondaryIndexes", [])}
        ttl = ddb.describe_time_to_live(TableName=td.table_name)["TimeToLiveDescription"]
        if "TimeToLiveSpecification" in props:
            assert ttl == {
                "TimeToLiveStatus": "ENABLED",
                "AttributeName": props["TimeToLiveSpecification"]["AttributeName"],
            }
        else:
            assert ttl["TimeToLiveStatus"] == "DISABLED"


def test_idempotency_records_expire_by_ttl(prod: dict[str, Any]) -> None:
    props = prod["Resources"]["IdempotencyTable"]["Properties"]
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


def test_a_model_with_a_ttl_attribute_gets_ttl_without_declaring_it() -> None:
    class Challenge(Model):
        Meta = table_meta("challenges")
        challenge_id = UnicodeAttribute(hash_key=True)
        expires = TTLAttribute()

    td = table_def(Challenge)
    assert td.ttl_attribute == "expires"
    assert td.logical_id == "ChallengesTable"
    assert td.create_table_args()["KeySchema"] == [{"AttributeName": "challenge_id", "KeyType": "HASH"}]


def test_review_queue_moves_failures_to_an_encrypted_dead_letter_queue(prod: dict[str, Any]) -> None:
    env = stage_environment("prod")
    queue = prod["Resources"]["ReviewQueue"]["Properties"]
    dlq = prod["Resources"]["ReviewQueueDeadLetter"]["Properties"]
    assert queue["QueueName"] == env["REVIEW_QUEUE_NAME"]
    assert dlq["QueueName"] == env["REVIEW_DLQ_NAME"]
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["ReviewQueueDeadLetter", "Arn"]},
        "maxReceiveCount": MAX_RECEIVES,
    }
    assert MAX_RECEIVES == 5
    assert queue["KmsMasterKeyId"] == dlq["KmsMasterKeyId"] == {"Ref": "DataKey"}
    assert dlq["RedriveAllowPolicy"]["redrivePermission"] == "byQueue"


def test_local_queues_have_the_same_redrive_as_the_template() -> None:
    sqs = boto3.client("sqs", region_name=settings().region)
    for q in all_queues():
        url = sqs.get_queue_url(QueueName=q.name)["QueueUrl"]
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        redrive = json.loads(attrs["RedrivePolicy"])
        assert int(redrive["maxReceiveCount"]) == q.max_receives
        assert redrive["deadLetterTargetArn"].endswith(":" + q.dlq_name)
        assert int(attrs["VisibilityTimeout"]) == q.visibility_timeout


def test_no_policy_grants_scan_wildcards_or_table_administration(prod: dict[str, Any]) -> None:
    for name, role in _resources_of(prod, "AWS::IAM::Role").items():
        for policy in role["Properties"].get("Policies", []):
            for st in policy["PolicyDocument"]["Statement"]:
                actions = _as_list(st["Action"])
                assert all("*" not in a for a in actions), (name, actions)
                assert "dynamodb:Scan" not in actions
                assert not {"dynamodb:DeleteTable", "dynamodb:CreateTable", "dynamodb:UpdateTable"} & set(actions)
                if st["Resource"] == "*":
                    assert all(a.startswith("xray:") for a in actions), (name, st)


def _table_grants(statements: list[dict[str, Any]]) -> dict[str, set[str]]:
    """`Table` or `Table/index/name` → the DynamoDB actions granted on it."""
    out: dict[str, set[str]] = {}
    for st in statements:
        if not any(a.startswith("dynamodb:") for a in _as_list(st["Action"])):
            continue
        for r in _as_list(st["Resource"]):
            name = r["Fn::GetAtt"][0] if "Fn::GetAtt" in r else r["Fn::Sub"].replace(".Arn}", "").strip("${")
            out.setdefault(name, set()).update(a.split(":")[1] for a in _as_list(st["Action"]))
    return out


def test_each_role_reaches_exactly_the_tables_and_indexes_its_function_declares(
    prod: dict[str, Any], app_module: Any
) -> None:
    from chalicelib.grants import GRANTS

    by_name = {t.name: t for t in all_tables()}
    for fn in infra.functions(app_module.app, "paylater", "prod"):
        expected = {}
        for name, actions in GRANTS[fn.handler].tables.items():
            table, _, index = name.partition("/")
            key = by_name[table].logical_id + (f"/index/{index}" if index else "")
            expected[key] = set(actions)
        assert _table_grants(_statements(prod, fn.logical_id)) == expected, fn.handler


def test_roles_are_narrowed_to_their_own_tables(prod: dict[str, Any]) -> None:
    every = sum(1 + len(t.index_names) for t in all_tables())
    api = _table_grants(_statements(prod, "APIHandler"))
    assert len(api) < every
    # The jobs' own state and indexes are not the API's.
    assert not {"JobStateTable", "OrdersTable/index/by_obligation", "EntriesTable/index/by_day"} & set(api)
    sweep = _table_grants(_statements(prod, "CompleteOrders"))
    assert set(sweep) == {"TimersTable", "OrdersTable"}
    assert "EntriesTable" not in _table_grants(_statements(prod, "CheckObligations"))


def test_a_function_without_grants_fails_the_build_naming_it() -> None:
    app = Chalice(app_name="paylater")

    @app.schedule(Rate(1, unit=Rate.HOURS))
    def rebuild_search_index(event: Any) -> None:
        return None

    with pytest.raises(SystemExit, match="no grants for rebuild_search_index"):
        infra.build("prod", app)


@pytest.mark.parametrize(
    ("tables", "message"),
    [
        ({"no_such_table": ("GetItem",)}, "names 'no_such_table', which is no table"),
        ({"orders/no_such_index": ("Query",)}, "orders has no index 'no_such_index'"),
        ({"orders/by_user": ("GetItem",)}, "an index is only queried"),
        ({"entries": ("PutItem", "UpdateItem")}, "entries is append-only"),
        ({"entries": ("PutItem", "DeleteItem")}, "entries is append-only"),
    ],
)
def test_a_grant_naming_what_does_not_exist_or_changing_the_ledger_fails(
    tables: dict[str, tuple[str, ...]], message: str
) -> None:
    from chalicelib.grants import Needs

    app = Chalice(app_name="paylater")

    @app.schedule(Rate(1, unit=Rate.HOURS))
    def some_job(event: Any) -> None:
        return None

    with pytest.raises(SystemExit, match=re.escape(message)):
        infra.build("prod", app, grants={"some_job": Needs(tables=tables)})


def test_ledger_entries_can_be_appended_but_never_changed(prod: dict[str, Any]) -> None:
    entries = {"Fn::GetAtt": ["EntriesTable", "Arn"]}
    for st in _statements(prod, "APIHandler"):
        if entries in _as_list(st["Resource"]):
            assert "dynamodb:PutItem" in st["Action"]
            assert not {"dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"} & set(st["Action"])


def test_only_the_retention_purge_may_delete_ledger_entries(prod: dict[str, Any]) -> None:
    entries = {"Fn::GetAtt": ["EntriesTable", "Arn"]}
    functions = [k for k, v in prod["Resources"].items() if v.get("Type") == "AWS::IAM::Role"]
    deleting = set()
    for role in functions:
        for policy in prod["Resources"][role]["Properties"].get("Policies", []):
            for st in policy["PolicyDocument"]["Statement"]:
                if entries in _as_list(st.get("Resource", [])) and "dynamodb:DeleteItem" in _as_list(st["Action"]):
                    deleting.add(role)
                    assert not {"dynamodb:UpdateItem", "dynamodb:BatchWriteItem"} & set(_as_list(st["Action"]))
    assert deleting and all("PurgeClosedAccounts" in role for role in deleting), deleting


def test_api_role_sends_to_the_queue_reads_the_stage_secret_and_publishes(prod: dict[str, Any]) -> None:
    by_sid = {st["Sid"]: st for st in _statements(prod, "APIHandler")}
    assert by_sid["EnqueueWork"]["Resource"] == [
        {"Fn::GetAtt": ["ReviewQueue", "Arn"]},
        {"Fn::GetAtt": ["WebhookQueue", "Arn"]},
    ]
    assert "sqs:ReceiveMessage" not in by_sid["EnqueueWork"]["Action"]
    assert by_sid["StageSecret"] == {
        "Sid": "StageSecret",
        "Effect": "Allow",
        "Action": "secretsmanager:GetSecretValue",
        "Resource": {"Fn::Sub": "${PiiSecretArn}*"},
    }
    assert by_sid["Notify"]["Resource"] == {"Ref": "NotificationTopic"}
    assert by_sid["OwnLogGroup"]["Resource"] == {"Fn::GetAtt": ["APIHandlerLogGroup", "Arn"]}


def test_new_schedules_and_queue_handlers_are_picked_up_with_their_own_roles(worker_app: Chalice) -> None:
    template = infra.build("prod", worker_app)
    res = template["Resources"]
    worker = res["ReviewRedemptions"]
    assert worker["Properties"]["Role"] == {"Fn::GetAtt": ["ReviewRedemptionsRole", "Arn"]}
    event = worker["Properties"]["Events"]["ReviewRedemptionsSqsEventSource"]
    assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert "ReviewQueue" in worker["DependsOn"]  # the event source mapping needs the queue to exist
    consume = {st["Sid"]: st for st in _statements(template, "ReviewRedemptions")}
    assert consume["ConsumeOwnQueue"]["Resource"] == [{"Fn::GetAtt": ["ReviewQueue", "Arn"]}]
    assert "EnqueueWork" not in consume
    assert res["ClosePaymentWindows"]["Properties"]["FunctionName"] == "paylater-prod-close-payment-windows"
    for fn in ("APIHandler", "ReviewRedemptions", "ClosePaymentWindows"):
        assert f"{fn}ErrorsAlarm" in res and f"{fn}ThrottlesAlarm" in res and f"{fn}LogGroup" in res


def test_a_queue_handler_on_an_undeclared_queue_gets_that_queue_and_a_dead_letter_queue() -> None:
    app = Chalice(app_name="paylater")

    @app.on_sqs_message(queue="paylater-prod-receipts")
    def handle_receipts(event: Any) -> None:
        return None

    from chalicelib.grants import Needs

    res = infra.build("prod", app, grants={"handle_receipts": Needs()})["Resources"]
    queue = res["PaylaterProdReceiptsQueue"]["Properties"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": ["PaylaterProdReceiptsQueueDeadLetter", "Arn"]
    }
    assert res["PaylaterProdReceiptsQueueDeadLetter"]["Properties"]["QueueName"] == "paylater-prod-receipts-dlq"


def test_alarms_cover_errors_throttles_dead_letters_and_ledger_drift(prod: dict[str, Any]) -> None:
    alarms = _resources_of(prod, "AWS::CloudWatch::Alarm")
    drift = alarms["LedgerDriftAlarm"]["Properties"]
    env = stage_environment("prod")
    assert (drift["Namespace"], drift["MetricName"]) == ("PayLater", "LedgerDrift")
    assert drift["Namespace"] == env["POWERTOOLS_METRICS_NAMESPACE"]
    assert drift["Dimensions"] == [{"Name": "service", "Value": env["POWERTOOLS_SERVICE_NAME"]}]
    dlq = alarms["ReviewQueueDeadLetterNotEmptyAlarm"]["Properties"]
    assert dlq["MetricName"] == "ApproximateNumberOfMessagesVisible" and dlq["Threshold"] == 1
    assert {"APIHandlerErrorsAlarm", "APIHandlerThrottlesAlarm", "ApiServerErrorsAlarm"} <= set(alarms)
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}]


def test_a_jump_in_the_risk_decline_rate_raises_an_alarm(prod: dict[str, Any]) -> None:
    alarm = _resources_of(prod, "AWS::CloudWatch::Alarm")["RiskDeclineRateAlarm"]["Properties"]
    metrics = {m["Id"]: m for m in alarm["Metrics"]}
    assert {"approve", "review", "decline", "rate"} == set(metrics)
    assert metrics["decline"]["MetricStat"]["Metric"]["MetricName"] == "RiskDecisions"
    assert "100 * FILL(decline, 0)" in metrics["rate"]["Expression"] and metrics["rate"]["ReturnData"]
    assert (alarm["Threshold"], alarm["EvaluationPeriods"]) == (30, 2)


def test_forgotten_obligations_raise_an_alarm(prod: dict[str, Any]) -> None:
    alarms = _resources_of(prod, "AWS::CloudWatch::Alarm")
    alarm = alarms["ObligationWithoutTimerAlarm"]["Properties"]
    env = stage_environment("prod")
    assert (alarm["Namespace"], alarm["MetricName"]) == (env["POWERTOOLS_METRICS_NAMESPACE"], "ObligationWithoutTimer")
    assert alarm["Dimensions"] == [{"Name": "service", "Value": env["POWERTOOLS_SERVICE_NAME"]}]
    assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]


def test_the_obligation_check_runs_daily_and_reads_orders_by_a_sparse_index(app_module: Any) -> None:
    from chalicelib.definitions import all_tables

    [orders] = [t for t in all_tables() if t.name == "orders"]
    [index] = [i for i in orders.global_indexes if i["IndexName"] == "by_obligation"]
    assert index["KeySchema"][0] == {"AttributeName": "obligation", "KeyType": "HASH"}
    [timers_table] = [t for t in all_tables() if t.name == "timers"]
    assert "by_ref" in timers_table.index_names
    [source] = [s for s in app_module.app.event_sources if s.name == "check_obligations"]
    assert source.schedule_expression.to_string() == "rate(1 day)"
    assert "CheckObligations" in [f.logical_id for f in infra.functions(app_module.app, "paylater", "prod")]


def test_api_stage_traces_throttles_and_writes_encrypted_access_logs(prod: dict[str, Any]) -> None:
    api = prod["Resources"]["RestAPI"]["Properties"]
    assert api["TracingEnabled"] is True
    assert api["AccessLogSetting"]["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    assert "$context.requestId" in api["AccessLogSetting"]["Format"]
    (method,) = api["MethodSettings"]
    assert method["ThrottlingRateLimit"] > 0 and method["ThrottlingBurstLimit"] >= method["ThrottlingRateLimit"]
    logs = _resources_of(prod, "AWS::Logs::LogGroup")
    for group in logs.values():
        assert group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": ["DataKey", "Arn"]}
        assert group["Properties"]["RetentionInDays"] == 365


def test_functions_get_stage_parameters_through_their_environment(prod: dict[str, Any]) -> None:
    env = prod["Resources"]["APIHandler"]["Properties"]["Environment"]["Variables"]
    assert env["PII_SECRET_ARN"] == {"Ref": "PiiSecretArn"}
    assert env["NOTIFICATION_TOPIC_ARN"] == {"Ref": "NotificationTopic"}
    assert env["CONSOLE_COGNITO_DOMAIN"] == {"Ref": "ConsoleCognitoDomain"}
    assert env["CONSOLE_CLIENT_ID"] == {"Ref": "ConsoleClientId"}
    assert set(infra.deploy_parameters("prod")) == set(prod["Parameters"])


def test_every_checkov_skip_says_why(prod: dict[str, Any]) -> None:
    skips = [s for r in prod["Resources"].values() for s in r.get("Metadata", {}).get("checkov", {}).get("skip", [])]
    assert skips
    assert all(s["id"].startswith("CKV_") and len(s["comment"]) > 40 for s in skips)


def test_the_webhook_worker_consumes_only_its_queue_whose_dead_letters_raise_an_alarm(prod: dict[str, Any]) -> None:
    res = prod["Resources"]
    worker = res["DeliverWebhookEvents"]
    assert worker["Properties"]["Role"] == {"Fn::GetAtt": ["DeliverWebhookEventsRole", "Arn"]}
    event = worker["Properties"]["Events"]["DeliverWebhookEventsSqsEventSource"]
    assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    consume = {st["Sid"]: st for st in _statements(prod, "DeliverWebhookEvents")}
    assert consume["ConsumeOwnQueue"]["Resource"] == [{"Fn::GetAtt": ["WebhookQueue", "Arn"]}]
    # It sends only to its own queue: a short retry is a delayed message.
    assert consume["EnqueueWork"]["Resource"] == [{"Fn::GetAtt": ["WebhookQueue", "Arn"]}]
    dlq_alarms = [
        r
        for r in _resources_of(prod, "AWS::CloudWatch::Alarm").values()
        if {"Name": "QueueName", "Value": {"Fn::GetAtt": ["WebhookQueueDeadLetter", "QueueName"]}}
        in r["Properties"].get("Dimensions", [])
    ]
    assert dlq_alarms


def test_stage_settings_name_the_same_resources_as_the_template(prod: dict[str, Any]) -> None:
    cfg = load({**stage_environment("prod"), "AWS_REGION": "cn-north-1"})
    names = {r["Properties"].get("QueueName") for r in _resources_of(prod, "AWS::SQS::Queue").values()}
    assert names == {cfg.review_queue_name, cfg.review_dlq_name, cfg.webhook_queue_name, cfg.webhook_dlq_name}


# Metrics other parts of the second release add (payouts, the timer audit): the dashboard
# draws them already; once the code emits them this set can be emptied.
EMITTED_ELSEWHERE = {"ObligationsWithoutTimer", "PayoutFailures"}
DASHBOARD_METRICS = {
    "OrdersPlaced",
    "BnplOrdersPaid",
    "OrdersOverdue",
    "LedgerDrift",
    "ObligationsWithoutTimer",
    "PayoutFailures",
    "ApproximateAgeOfOldestMessage",
    "RiskDecisions",
    "RiskRuleMatches",
}


def _emitted_metric_names() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "chalicelib").rglob("*.py"):
        names.update(re.findall(r'count\(\s*"([A-Za-z]+)"', path.read_text(encoding="utf-8")))
        names.update(re.findall(r'else "([A-Za-z]+)"\)', path.read_text(encoding="utf-8")))
    return names


def test_the_dashboard_draws_the_metrics_the_code_emits(prod: dict[str, Any]) -> None:
    (dash,) = _resources_of(prod, "AWS::CloudWatch::Dashboard").values()
    text = dash["Properties"]["DashboardBody"]["Fn::Sub"]
    assert set(re.findall(r"\$\{([^}]+)\}", text)) == {"AWS::Region"}, "Fn::Sub fills in the region only"
    widgets = json.loads(text.replace("${AWS::Region}", "cn-north-1"))["widgets"]
    drawn: set[str] = set()
    for w in widgets:
        for m in w["properties"]["metrics"]:
            if isinstance(m[0], str):
                drawn.add(m[1])
            drawn.update(
                re.findall(r'MetricName="([A-Za-z]+)"', m[0].get("expression", "") if isinstance(m[0], dict) else "")
            )
    assert DASHBOARD_METRICS <= drawn
    ours = drawn - {"ApproximateAgeOfOldestMessage", "ApproximateNumberOfMessagesVisible"}
    unknown = ours - _emitted_metric_names() - EMITTED_ELSEWHERE
    assert not unknown, f"the dashboard draws metrics nothing emits: {unknown}"
    queues = {m[3] for w in widgets for m in w["properties"]["metrics"] if isinstance(m[0], str) and m[0] == "AWS/SQS"}
    cfg = load({**stage_environment("prod"), "AWS_REGION": "cn-north-1"})
    assert queues == {cfg.review_queue_name, cfg.review_dlq_name}


def test_a_reason_for_a_grant_not_made_fails_the_build() -> None:
    from chalicelib.grants import READ, Needs

    app = Chalice(app_name="paylater")

    @app.schedule(Rate(1, unit=Rate.HOURS))
    def some_job(event: Any) -> None:
        return None

    needs = Needs(tables={"orders": READ}, why={"payouts": "stale"})
    with pytest.raises(SystemExit, match="gives a reason for 'payouts', which it is not granted"):
        infra.build("prod", app, grants={"some_job": needs})


# --- what a local IAM run cannot see (make iam-check): keys, logs, tracing, trust ----------


def _functions(prod: dict[str, Any], app_module: Any) -> list[Any]:
    return infra.functions(app_module.app, "paylater", "prod")


def test_kms_on_the_data_key_only_generate_for_who_sends_or_publishes(prod: dict[str, Any], app_module: Any) -> None:
    from chalicelib.grants import GRANTS

    key = {"Fn::GetAtt": ["DataKey", "Arn"]}
    # What the key encrypts: every queue (and its DLQ) and topic the functions use.
    for res in _resources_of(prod, "AWS::SQS::Queue").values():
        assert res["Properties"]["KmsMasterKeyId"] == {"Ref": "DataKey"}
    for res in _resources_of(prod, "AWS::SNS::Topic").values():
        assert res["Properties"]["KmsMasterKeyId"] == {"Ref": "DataKey"}
    for fn in _functions(prod, app_module):
        needs = GRANTS[fn.handler]
        kms = [
            st for st in _statements(prod, fn.logical_id) if any(a.startswith("kms:") for a in _as_list(st["Action"]))
        ]
        assert len(kms) == 1 and kms[0]["Resource"] == key, fn.handler
        actions = set(_as_list(kms[0]["Action"]))
        # Decrypt: the function's environment (KmsKeyArn), and what a consumer receives.
        assert "kms:Decrypt" in actions
        assert prod["Resources"][fn.logical_id]["Properties"]["KmsKeyArn"] == key
        # GenerateDataKey: sending to an encrypted queue, publishing to an encrypted topic.
        assert ("kms:GenerateDataKey" in actions) == bool(needs.send or needs.publish), fn.handler
        assert actions <= {"kms:Decrypt", "kms:GenerateDataKey"}


def test_the_key_lets_logs_and_alarms_use_it_and_nobody_else_but_the_account(prod: dict[str, Any]) -> None:
    policy = prod["Resources"]["DataKey"]["Properties"]["KeyPolicy"]["Statement"]
    principals = [json.dumps(st["Principal"], sort_keys=True) for st in policy]
    assert len(principals) == 3
    logs = next(st for st in policy if st["Sid"] == "LogsEncryptThisStagesLogGroups")
    assert "kms:EncryptionContext:aws:logs:arn" in logs["Condition"]["ArnLike"]
    alarms = next(st for st in policy if st["Sid"] == "AlarmsPublishToEncryptedTopics")
    assert set(alarms["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}


def test_each_function_writes_only_its_own_encrypted_log_group(prod: dict[str, Any], app_module: Any) -> None:
    for fn in _functions(prod, app_module):
        logs = [
            st for st in _statements(prod, fn.logical_id) if any(a.startswith("logs:") for a in _as_list(st["Action"]))
        ]
        assert logs == [
            {
                "Sid": "OwnLogGroup",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": {"Fn::GetAtt": [f"{fn.logical_id}LogGroup", "Arn"]},
            }
        ], fn.handler
        group = prod["Resources"][f"{fn.logical_id}LogGroup"]["Properties"]
        assert group["LogGroupName"] == f"/aws/lambda/{fn.function_name}"
        assert group["KmsKeyId"] == {"Fn::GetAtt": ["DataKey", "Arn"]}
        assert f"{fn.logical_id}LogGroup" in prod["Resources"][fn.logical_id]["DependsOn"]


def test_each_function_may_send_traces_and_nothing_else_on_every_resource(
    prod: dict[str, Any], app_module: Any
) -> None:
    for fn in _functions(prod, app_module):
        wild = [st for st in _statements(prod, fn.logical_id) if st["Resource"] == "*"]
        assert wild == [
            {
                "Sid": "Tracing",
                "Effect": "Allow",
                "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
                "Resource": "*",
            }
        ], fn.handler


def test_roles_trust_lambda_alone_and_only_the_api_gateway_logging_role_trusts_api_gateway(
    prod: dict[str, Any], app_module: Any
) -> None:
    roles = _resources_of(prod, "AWS::IAM::Role")
    function_roles = {f"{fn.logical_id}Role" for fn in _functions(prod, app_module)}
    assert function_roles <= set(roles)
    for name, role in roles.items():
        trust = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        service = "lambda.amazonaws.com" if name in function_roles else "apigateway.amazonaws.com"
        assert name in function_roles or name == "ApiGatewayLoggingRole", name
        assert trust == [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}], name
        assert "ManagedPolicyArns" not in role["Properties"] or name == "ApiGatewayLoggingRole"
        for policy in role["Properties"].get("Policies", []):
            for st in policy["PolicyDocument"]["Statement"]:
                assert st["Effect"] == "Allow" and "NotAction" not in st and "NotResource" not in st, (name, st)
                assert not any(a.startswith(("iam:", "sts:", "kms:Create", "kms:Put")) for a in _as_list(st["Action"]))


def test_only_queue_handlers_receive_and_only_from_their_own_queue(prod: dict[str, Any], app_module: Any) -> None:
    for fn in _functions(prod, app_module):
        for st in _statements(prod, fn.logical_id):
            actions = set(_as_list(st["Action"]))
            if actions & {"sqs:ReceiveMessage", "sqs:DeleteMessage"}:
                assert fn.kind == "sqs", fn.handler
                assert all("DeadLetter" not in r["Fn::GetAtt"][0] for r in st["Resource"])
            if "sqs:SendMessage" in actions:
                assert all("DeadLetter" not in r["Fn::GetAtt"][0] for r in st["Resource"]), fn.handler
