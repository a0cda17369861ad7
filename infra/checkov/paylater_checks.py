"""Checks stock checkov rules miss: DynamoDB deletion protection, SQS dead-letter queues,
and SQS event sources that report partial batch failures.

Loaded with `checkov --external-checks-dir infra/checkov` (make infra-check).
"""

from __future__ import annotations

from typing import Any

from checkov.cloudformation.checks.resource.base_resource_check import BaseResourceCheck
from checkov.common.models.enums import CheckCategories, CheckResult


def _true(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


class DynamoDBDeletionProtection(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Ensure DynamoDB tables have deletion protection enabled",
            id="CKV_PAYLATER_1",
            categories=[CheckCategories.BACKUP_AND_RECOVERY],
            supported_resources=["AWS::DynamoDB::Table"],
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        props = conf.get("Properties") or {}
        # checkov hides DeletionPolicy from checks; tests/infra/test_packaged_template.py checks Retain.
        return CheckResult.PASSED if _true(props.get("DeletionProtectionEnabled")) else CheckResult.FAILED


class SQSDeadLetterQueue(BaseResourceCheck):
    """A work queue must move poison messages to a DLQ; a DLQ says who may use it."""

    def __init__(self) -> None:
        super().__init__(
            name="Ensure SQS queues have a dead-letter queue (or are one, with a redrive allow policy)",
            id="CKV_PAYLATER_2",
            categories=[CheckCategories.GENERAL_SECURITY],
            supported_resources=["AWS::SQS::Queue"],
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        props = conf.get("Properties") or {}
        redrive = props.get("RedrivePolicy")
        if isinstance(redrive, dict) and redrive.get("deadLetterTargetArn"):
            try:
                receives = int(redrive.get("maxReceiveCount"))
            except (TypeError, ValueError):
                return CheckResult.FAILED
            return CheckResult.PASSED if 1 <= receives <= 10 else CheckResult.FAILED
        allow = props.get("RedriveAllowPolicy")
        if isinstance(allow, dict) and allow.get("redrivePermission") in ("byQueue", "denyAll"):
            return CheckResult.PASSED
        return CheckResult.FAILED


class SQSPartialBatchResponse(BaseResourceCheck):
    """Without ReportBatchItemFailures one bad record makes the whole batch redeliver."""

    def __init__(self) -> None:
        super().__init__(
            name="Ensure SQS event sources report batch item failures",
            id="CKV_PAYLATER_3",
            categories=[CheckCategories.GENERAL_SECURITY],
            supported_resources=["AWS::Serverless::Function", "AWS::Lambda::EventSourceMapping"],
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        props = conf.get("Properties") or {}
        if conf.get("Type") == "AWS::Lambda::EventSourceMapping":
            sources = [props]
        else:
            events = props.get("Events") or {}
            sources = [
                e.get("Properties") or {} for e in events.values() if isinstance(e, dict) and e.get("Type") == "SQS"
            ]
        if not sources:
            return CheckResult.UNKNOWN
        ok = all("ReportBatchItemFailures" in (s.get("FunctionResponseTypes") or []) for s in sources)
        return CheckResult.PASSED if ok else CheckResult.FAILED


check_deletion_protection = DynamoDBDeletionProtection()
check_dead_letter_queue = SQSDeadLetterQueue()
check_partial_batch = SQSPartialBatchResponse()
