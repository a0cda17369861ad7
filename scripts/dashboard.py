"""The operations dashboard (CloudWatch) of a stage: the business metrics the code emits.

Every metric here is one `observability.count(...)` emits (EMF, namespace `PayLater`,
dimension `service` plus the call's own), or an SQS metric of the review queue. Metrics
whose dimensions vary (per channel, per outcome) are drawn with SEARCH, so a new channel or
outcome appears without a template change. Used by `scripts/infra.py`.
"""

from __future__ import annotations

import json
from typing import Any

DAY = 86400
HOUR = 3600


def _metric(namespace: str, name: str, service: str, label: str, **extra: Any) -> list[Any]:
    return [namespace, name, "service", service, {"label": label, "stat": "Sum", **extra}]


def _search(namespace: str, name: str, label: str, period: int, id_: str, *, visible: bool = True) -> dict[str, Any]:
    return {
        "expression": f"SEARCH('Namespace=\"{namespace}\" MetricName=\"{name}\"', 'Sum', {period})",
        "label": label,
        "id": id_,
        "visible": visible,
    }


def _graph(
    title: str, metrics: list[Any], x: int, y: int, *, period: int, width: int = 12, **extra: Any
) -> dict[str, Any]:
    return {
        "type": "metric",
        "x": x,
        "y": y,
        "width": width,
        "height": 6,
        "properties": {
            "title": title,
            "region": "${AWS::Region}",
            "view": "timeSeries",
            "stacked": False,
            "period": period,
            "metrics": metrics,
            **extra,
        },
    }


def body(*, namespace: str, service: str, review_queue: str, review_dlq: str) -> str:
    """The dashboard body (JSON; `${AWS::Region}` is filled in by Fn::Sub)."""
    ns = namespace
    paid = f"SEARCH('{{{ns},channel,on_time,service}} MetricName=\"BnplOrdersPaid\"', 'Sum', {DAY})"
    on_time = f"SEARCH('{{{ns},channel,on_time,service}} MetricName=\"BnplOrdersPaid\" on_time=\"true\"', 'Sum', {DAY})"
    widgets = [
        _graph(
            "下单 Orders placed (先用后付 placed; channel orders awaiting payment)",
            [
                _metric(ns, "OrdersPlaced", service, "placed"),
                _metric(ns, "OrdersAwaitingPayment", service, "awaiting payment"),
            ],
            0,
            0,
            period=HOUR,
        ),
        _graph(
            "扣款 Collections by outcome (paid by channel and on time; overdue at the window's close)",
            [
                [{"expression": paid, "label": "paid", "id": "paid"}],
                _metric(ns, "OrdersOverdue", service, "overdue (auto-debit declined)"),
                _metric(ns, "CollectionCharges", service, "auto-debit charges, first round", visible=False),
            ],
            12,
            0,
            period=DAY,
        ),
        _graph(
            "逾期率 Overdue rate: windows closed overdue / (overdue + paid on time), %",
            [
                [{"expression": on_time, "id": "ontime", "visible": False, "label": "paid on time"}],
                [{"expression": "SUM(ontime)", "id": "ontimesum", "visible": False, "label": "paid on time"}],
                [ns, "OrdersOverdue", "service", service, {"id": "overdue", "stat": "Sum", "visible": False}],
                [
                    {
                        "expression": "100 * FILL(overdue, 0) / (FILL(overdue, 0) + FILL(ontimesum, 0))",
                        "id": "rate",
                        "label": "overdue rate %",
                    }
                ],
            ],
            0,
            6,
            period=DAY,
            yAxis={"left": {"min": 0, "max": 100}},
        ),
        _graph(
            "审核队列 Review queue: age of the oldest message (s) and messages waiting",
            [
                ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", review_queue, {"stat": "Maximum"}],
                ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", review_queue, {"stat": "Maximum"}],
                ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", review_dlq, {"stat": "Maximum"}],
            ],
            12,
            6,
            period=300,
        ),
        _graph(
            "账本偏差 Ledger drift (reconcile_ledger; anything above 0 is money to investigate)",
            [_metric(ns, "LedgerDrift", service, "drift")],
            0,
            12,
            period=DAY,
        ),
        _graph(
            "无计时器的义务 Obligations without a timer",
            [[_search(ns, "ObligationsWithoutTimer", "obligations without a timer", DAY, "orphans")]],
            12,
            12,
            period=DAY,
        ),
        _graph(
            "打款失败 Payout failures",
            [[_search(ns, "PayoutFailures", "payout failures", DAY, "payoutfail")]],
            0,
            18,
            period=DAY,
        ),
        *_risk_widgets(ns, service),
    ]
    return json.dumps({"widgets": widgets}, ensure_ascii=False, separators=(",", ":"))


def _risk_decisions(ns: str, service: str, outcome: str) -> list[Any]:
    return [
        ns,
        "RiskDecisions",
        "Outcome",
        outcome,
        "service",
        service,
        {"id": outcome, "stat": "Sum", "visible": False},
    ]


def _risk_widgets(ns: str, service: str) -> list[dict[str, Any]]:
    """风控: approval, review and decline rates (decisions by `Outcome`), and rule matches."""
    total = "FILL(approve, 0) + FILL(review, 0) + FILL(decline, 0)"
    rates = [
        [{"expression": f"100 * FILL({o}, 0) / ({total})", "id": f"{o}rate", "label": f"{o} rate %"}]
        for o in ("approve", "review", "decline")
    ]
    return [
        _graph(
            "风控 Risk decisions: approval, review and decline rates, %",
            [*(_risk_decisions(ns, service, o) for o in ("approve", "review", "decline")), *rates],
            12,
            18,
            period=HOUR,
            yAxis={"left": {"min": 0, "max": 100}},
        ),
        _graph(
            "风控规则 Risk rule matches (a rule that jumps may be broken)",
            [[_search(ns, "RiskRuleMatches", "matches", HOUR, "rules")]],
            0,
            24,
            period=HOUR,
        ),
    ]


def resource(
    *, dashboard_name: str, namespace: str, service: str, review_queue: str, review_dlq: str
) -> dict[str, Any]:
    text = body(namespace=namespace, service=service, review_queue=review_queue, review_dlq=review_dlq)
    return {
        "Type": "AWS::CloudWatch::Dashboard",
        "Properties": {"DashboardName": dashboard_name, "DashboardBody": {"Fn::Sub": text}},
    }
