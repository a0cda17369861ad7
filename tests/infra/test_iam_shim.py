"""scripts/iam_shim.py: moto's IAM enforcement made faithful for what PayLater calls (the
engine of `make iam-check`): resources per table and index, one decision per transaction
item, NotResource, conditions failing closed; and against a real (in-process) moto server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests
from botocore.exceptions import ClientError

from scripts import iam_shim
from scripts.fuzz import free_port

ARN = "arn:aws-cn:dynamodb:cn-north-1:123456789012:table"


def _req(action: str, params: dict[str, Any], service: str = "dynamodb") -> list[tuple[str, str]]:
    return iam_shim.requested(service, action, params, "cn-north-1", "123456789012")


def test_item_calls_are_checked_on_the_table_and_queries_on_the_index() -> None:
    assert _req("GetItem", {"TableName": "t"}) == [("dynamodb:GetItem", f"{ARN}/t")]
    assert _req("Query", {"TableName": "t", "IndexName": "by_user"}) == [("dynamodb:Query", f"{ARN}/t/index/by_user")]
    assert _req("ListTables", {}) == [("dynamodb:ListTables", "*")]
    assert _req("BatchGetItem", {"RequestItems": {"a": {}, "b": {}}}) == [
        ("dynamodb:BatchGetItem", f"{ARN}/a"),
        ("dynamodb:BatchGetItem", f"{ARN}/b"),
    ]


def test_a_transaction_is_one_decision_per_item_as_its_own_action() -> None:
    items = [
        {"ConditionCheck": {"TableName": "users"}},
        {"Put": {"TableName": "entries"}},
        {"Update": {"TableName": "balances"}},
        {"Delete": {"TableName": "timers"}},
    ]
    assert _req("TransactWriteItems", {"TransactItems": items}) == [
        ("dynamodb:ConditionCheckItem", f"{ARN}/users"),
        ("dynamodb:PutItem", f"{ARN}/entries"),
        ("dynamodb:UpdateItem", f"{ARN}/balances"),
        ("dynamodb:DeleteItem", f"{ARN}/timers"),
    ]


def test_queues_topics_and_secrets_are_checked_on_their_arns() -> None:
    q = "arn:aws-cn:sqs:cn-north-1:123456789012:q"
    assert _req("GetQueueUrl", {"QueueName": "q"}, "sqs") == [("sqs:GetQueueUrl", q)]
    assert _req("SendMessage", {"QueueUrl": "http://127.0.0.1:5/123456789012/q"}, "sqs") == [("sqs:SendMessage", q)]
    assert _req("Publish", {"TopicArn": "arn:aws-cn:sns:x"}, "sns") == [("sns:Publish", "arn:aws-cn:sns:x")]
    assert _req("GetSecretValue", {"SecretId": "s"}, "secretsmanager") == [
        ("secretsmanager:GetSecretValue", "arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:s")
    ]


def _doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def test_decide_allows_matching_statements_and_an_explicit_deny_wins() -> None:
    allow = {"Effect": "Allow", "Action": ["dynamodb:GetItem"], "Resource": [f"{ARN}/t"]}
    assert iam_shim.decide([_doc(allow)], "dynamodb:GetItem", f"{ARN}/t")
    assert iam_shim.decide([_doc(allow)], "DynamoDB:getitem", f"{ARN}/t")  # actions are case-insensitive
    assert not iam_shim.decide([_doc(allow)], "dynamodb:GetItem", f"{ARN}/t/index/i")
    assert not iam_shim.decide([_doc(allow)], "dynamodb:GetItem", f"{ARN}/T")  # resources are not
    assert not iam_shim.decide([_doc(allow)], "dynamodb:Query", f"{ARN}/t")
    wild = {"Effect": "Allow", "Action": "dynamodb:*", "Resource": f"{ARN}/t*"}
    assert iam_shim.decide([_doc(wild)], "dynamodb:Query", f"{ARN}/t/index/i")
    deny = {"Effect": "Deny", "Action": "dynamodb:GetItem", "Resource": "*"}
    assert not iam_shim.decide([_doc(allow), _doc(deny)], "dynamodb:GetItem", f"{ARN}/t")


def test_not_resource_and_not_action_are_honoured_and_conditions_fail_closed() -> None:
    not_ledger = {"Effect": "Allow", "Action": "dynamodb:GetItem", "NotResource": f"{ARN}/entries"}
    assert iam_shim.decide([_doc(not_ledger)], "dynamodb:GetItem", f"{ARN}/orders")
    assert not iam_shim.decide([_doc(not_ledger)], "dynamodb:GetItem", f"{ARN}/entries")
    not_scan = {"Effect": "Allow", "NotAction": "dynamodb:Scan", "Resource": "*"}
    assert iam_shim.decide([_doc(not_scan)], "dynamodb:GetItem", f"{ARN}/orders")
    assert not iam_shim.decide([_doc(not_scan)], "dynamodb:Scan", f"{ARN}/orders")
    cond = {"Condition": {"Bool": {"aws:SecureTransport": "true"}}}
    allow = {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*"}
    assert not iam_shim.decide([_doc({**allow, **cond})], "dynamodb:GetItem", f"{ARN}/t")
    deny = {"Effect": "Deny", "Action": "dynamodb:GetItem", "Resource": "*", **cond}
    assert not iam_shim.decide([_doc(allow), _doc(deny)], "dynamodb:GetItem", f"{ARN}/t")


@pytest.fixture
def enforcing() -> Iterator[tuple[str, iam_shim.DecisionLog]]:
    """A moto server on loopback with the shim, enforcing after set-up (`reset-auth`)."""
    from moto import settings
    from moto.server import ThreadedMotoServer

    log = iam_shim.DecisionLog()
    undo = iam_shim.install(log)
    before = settings.INITIAL_NO_AUTH_ACTION_COUNT
    settings.INITIAL_NO_AUTH_ACTION_COUNT = float("inf")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        yield endpoint, log
    finally:
        requests.post(f"{endpoint}/moto-api/reset-auth", data=b"inf", timeout=10)
        server.stop()
        undo()
        settings.INITIAL_NO_AUTH_ACTION_COUNT = before


def _client(service: str, endpoint: str, key: tuple[str, str] = ("a", "b")) -> Any:
    return boto3.client(
        service,
        region_name="cn-north-1",
        endpoint_url=endpoint,
        aws_access_key_id=key[0],
        aws_secret_access_key=key[1],
    )


def test_against_moto_a_transaction_needs_each_items_action_and_index_queries_the_index(
    enforcing: tuple[str, iam_shim.DecisionLog],
) -> None:
    endpoint, log = enforcing
    ddb = _client("dynamodb", endpoint)
    for name in ("ok", "other"):
        ddb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
            AttributeDefinitions=[
                {"AttributeName": "k", "AttributeType": "S"},
                {"AttributeName": "g", "AttributeType": "S"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "by_g",
                    "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
    table = f"{ARN}/ok"
    iam = _client("iam", endpoint)
    iam.create_user(UserName="fn")
    policy = _doc(
        {"Effect": "Allow", "Action": ["dynamodb:PutItem", "dynamodb:GetItem"], "Resource": [table]},
        {"Effect": "Allow", "Action": "dynamodb:Query", "Resource": f"{table}/index/by_g"},
    )
    iam.put_user_policy(UserName="fn", PolicyName="p", PolicyDocument=json.dumps(policy))
    k = iam.create_access_key(UserName="fn")["AccessKey"]
    requests.post(f"{endpoint}/moto-api/reset-auth", data=b"0", timeout=10).raise_for_status()

    fn = _client("dynamodb", endpoint, (k["AccessKeyId"], k["SecretAccessKey"]))
    item = {"k": {"S": "1"}, "g": {"S": "x"}}
    fn.transact_write_items(TransactItems=[{"Put": {"TableName": "ok", "Item": item}}])
    assert (
        fn.query(
            TableName="ok",
            IndexName="by_g",
            KeyConditionExpression="g = :g",
            ExpressionAttributeValues={":g": {"S": "x"}},
        )["Count"]
        == 1
    )
    denied = [
        lambda: fn.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": "ok", "Item": item}},
                {
                    "Update": {
                        "TableName": "ok",
                        "Key": {"k": {"S": "1"}},
                        "UpdateExpression": "SET a = :a",
                        "ExpressionAttributeValues": {":a": {"S": "y"}},
                    }
                },
            ]
        ),
        lambda: fn.get_item(TableName="other", Key={"k": {"S": "1"}}),
        lambda: fn.query(TableName="ok", KeyConditionExpression="k = :k", ExpressionAttributeValues={":k": {"S": "1"}}),
        lambda: fn.scan(TableName="ok"),
        lambda: fn.list_tables(),
    ]
    for call in denied:
        with pytest.raises(ClientError, match="not authorized"):
            call()
    mine = [(d.action, d.resource.removeprefix(ARN), d.allowed) for d in log.decisions if d.principal == "fn"]
    assert mine == [
        ("dynamodb:PutItem", "/ok", True),
        ("dynamodb:Query", "/ok/index/by_g", True),
        ("dynamodb:PutItem", "/ok", True),
        ("dynamodb:UpdateItem", "/ok", False),
        ("dynamodb:GetItem", "/other", False),
        ("dynamodb:Query", "/ok", False),
        ("dynamodb:Scan", "/ok", False),
        ("dynamodb:ListTables", "*", False),
    ]
    assert json.loads(log.decisions[-1].line())["allowed"] is False


def test_the_iam_check_attributes_each_local_request_to_its_cloud_function() -> None:
    from scripts.iam_check import LOCAL_DEV, role_for_path

    assert role_for_path("/v1/orders/o1/receipt") == "api_handler"
    assert role_for_path("/v1/channels/alipay/notify") == "api_handler"
    assert role_for_path("/v1/dev/payments/notify") == "api_handler"  # the real notify path, played
    assert role_for_path("/v1/dev/jobs/process_refunds") == "process_refunds"
    assert role_for_path("/v1/dev/tokens") == LOCAL_DEV


def test_the_iam_check_resolves_the_templates_intrinsics_to_local_arns() -> None:
    from scripts.iam_check import _table_of, resolve

    arns = {"OrdersTable": f"{ARN}/paylater-local-orders"}
    refs = {"NotificationTopic": "arn:aws-cn:sns:cn-north-1:123456789012:t"}
    doc = {
        "Resource": [
            {"Fn::GetAtt": ["OrdersTable", "Arn"]},
            {"Fn::Sub": "${OrdersTable.Arn}/index/by_user"},
            {"Ref": "NotificationTopic"},
            {"Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:x"},
        ]
    }
    assert resolve(doc, arns, refs)["Resource"] == [
        f"{ARN}/paylater-local-orders",
        f"{ARN}/paylater-local-orders/index/by_user",
        refs["NotificationTopic"],
        "arn:aws-cn:logs:cn-north-1:123456789012:x",
    ]
    assert _table_of(f"{ARN}/paylater-local-orders/index/by_user") == "orders/by_user"
    assert _table_of(f"{ARN}/paylater-local-payout-accounts") == "payout-accounts"
