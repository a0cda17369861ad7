"""Logs are JSON with a request id and correlation id on every line and never carry PII;
business metrics leave as EMF within the invocation that counted them."""

from __future__ import annotations

import json
import os
import re
import sys
import threading
from typing import Any

import pytest

from chalicelib.config import settings
from chalicelib.observability import bind_invocation, count, logger, metrics
from tests.conftest import ADULT_ID
from tests.support.logs import Lines
from tests.support.logs import log_lines as log_lines  # noqa: F401  (the fixture)

REAL_NAME = "张三丰"
CARD = "6222020200112233446"
PIN = "135790"


def test_an_activation_story_logs_ids_on_every_line_and_no_pii(api: Any, log_lines: Lines) -> None:
    uid = "u-obs-1"
    token = api.token(uid)
    headers = {"X-Correlation-Id": "app-session-42"}
    steps = [
        ("POST", "/v1/me/identity", {"real_name": REAL_NAME, "id_number": ADULT_ID}),
        ("POST", "/v1/me/identity", {"real_name": REAL_NAME, "id_number": "110105194912310021"}),  # bad check digit
        ("POST", "/v1/me/bank-cards", {"card_number": CARD}),
        ("PUT", "/v1/me/payment-password", {"password": PIN}),
        ("POST", "/v1/bnpl/activation", {"agreement_version": settings().rules.agreement_version}),
        ("GET", "/v1/wallet", None),
        ("GET", "/v1/me", None),
    ]
    statuses = []
    for method, path, body in steps:
        r = api.call(method, path, as_=uid, json_body=body, headers=headers)
        statuses.append(r.status_code)
    assert statuses[0] == 200 and statuses[1] >= 400 and statuses[-1] == 200
    # The unauthenticated and the malformed requests are logged too.
    api.call("GET", "/v1/me", headers={"Authorization": f"Bearer {token}x"})
    api.call("GET", "/v1/health")

    lines = log_lines()
    handled = [line for line in lines if line["message"] == "request handled"]
    assert len(handled) == len(steps) + 2
    for line in lines:
        assert line["request_id"], line
        assert line["correlation_id"], line
        assert line["service"] == "paylater"
    assert {line["correlation_id"] for line in handled[: len(steps)]} == {"app-session-42"}
    assert [line["status"] for line in handled[: len(steps)]] == statuses
    assert handled[len(steps)]["code"] == "token_invalid"
    text = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines)
    escaped_name = json.dumps(REAL_NAME)[1:-1]  # as a JSON encoder would write it
    for secret in (REAL_NAME, escaped_name, ADULT_ID, ADULT_ID[:14], CARD, CARD[:12], PIN, token, token.split(".")[2]):
        assert secret not in text


def test_a_correlation_id_that_is_not_an_id_is_not_logged(api: Any, log_lines: Lines) -> None:
    api.call("GET", "/v1/health", headers={"X-Correlation-Id": f"name={REAL_NAME} id={ADULT_ID}"})
    (line,) = [x for x in log_lines() if x["message"] == "request handled"]
    assert line["correlation_id"] == line["request_id"]
    assert ADULT_ID not in json.dumps(line)


class _Context:
    aws_request_id = "lambda-req-7"


class _Event:
    context = _Context()


def test_schedule_and_queue_invocations_log_their_lambda_request_id(log_lines: Lines) -> None:
    def handler(event: Any) -> str:
        logger.info("job finished", extra={"job": "close_payment_windows", "closed": 3})
        return "done"

    assert bind_invocation(_Event(), handler) == "done"
    logger.info("between invocations")
    first, after = log_lines()
    assert (first["request_id"], first["correlation_id"], first["function_request_id"]) == ("lambda-req-7",) * 3
    assert "request_id" not in after and "function_request_id" not in after


def test_count_flushes_one_emf_document_per_metric_within_the_call(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    metrics.cache_clear()
    try:
        count("RedemptionsDecided", outcome="approved")
        count("OrdersPlaced", 2)
    finally:
        metrics.cache_clear()
    docs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert len(docs) == 2
    first, second = docs
    assert first["_aws"]["CloudWatchMetrics"][0]["Namespace"] == os.environ["POWERTOOLS_METRICS_NAMESPACE"]
    assert first["RedemptionsDecided"] == [1.0] or first["RedemptionsDecided"] == 1.0
    assert first["outcome"] == "approved" and first["service"] == "paylater"
    assert second["OrdersPlaced"] in (2.0, [2.0])
    # Dimensions do not leak from one metric into the next.
    assert "outcome" not in second


def test_counts_from_concurrent_threads_keep_their_own_dimensions(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The local server counts from request threads: each document carries its own channel."""
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    metrics.cache_clear()
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads interleave as under load
    try:
        threads = [
            threading.Thread(target=lambda i=i: [count("BnplOrdersPaid", channel=f"c{i}") for _ in range(25)])
            for i in range(6)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
        metrics.cache_clear()
    docs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert len(docs) == 150
    assert sorted(d["channel"] for d in docs) == sorted(f"c{i}" for i in range(6) for _ in range(25))
    assert all(d["BnplOrdersPaid"] in (1.0, [1.0]) for d in docs)


def test_counts_with_metrics_disabled_keep_nothing(recwarn: pytest.WarningsRecorder) -> None:
    """Disabled (tests, the local stack), Powertools' flush printed nothing and cleared
    nothing: values piled up for the life of the process, with "dimension already added"."""
    metrics.cache_clear()
    try:
        for channel in ("card", "alipay", "card"):
            count("BnplOrdersPaid", channel=channel)
        provider = metrics().provider
        assert provider.metric_set == {} and provider.dimension_set == {}
    finally:
        metrics.cache_clear()
    assert not [w for w in recwarn if "already been added" in str(w.message)]


UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def test_every_answer_names_its_request_and_the_log_lines_carry_the_same_id(api: Any, log_lines: Lines) -> None:
    echoed = api.call("GET", "/v1/health", headers={"X-Correlation-Id": "app-session-43"})
    assert echoed.headers["X-Request-Id"] == "app-session-43"
    fresh = api.call("GET", "/v1/me")  # a problem: token_missing
    rid = fresh.headers["X-Request-Id"]
    assert UUID.match(rid) and fresh.json["request_id"] == rid and fresh.json["code"] == "token_missing"
    dropped = api.call("GET", "/v1/health", headers={"X-Correlation-Id": f"name={REAL_NAME}"})
    assert UUID.match(dropped.headers["X-Request-Id"])  # not an id: not echoed, a new one
    handled = [line for line in log_lines() if line["message"] == "request handled"]
    assert [line["request_id"] for line in handled] == [
        "app-session-43",
        rid,
        dropped.headers["X-Request-Id"],
    ]


def test_a_replayed_problem_names_the_request_it_answers(api: Any) -> None:
    body = {"real_name": REAL_NAME, "id_number": "110105194912310021"}  # bad check digit
    first = api.call("POST", "/v1/me/identity", as_="u-obs-2", json_body=body, idem="retry-key-0001")
    again = api.call("POST", "/v1/me/identity", as_="u-obs-2", json_body=body, idem="retry-key-0001")
    assert first.status_code == again.status_code == 422 and again.headers["Idempotent-Replayed"] == "true"
    assert first.json["request_id"] != again.json["request_id"] == again.headers["X-Request-Id"]
    assert {k: v for k, v in first.json.items() if k != "request_id"} == {
        k: v for k, v in again.json.items() if k != "request_id"
    }


def test_json_answers_end_with_a_newline(api: Any) -> None:
    for r in (api.call("GET", "/v1/health"), api.call("GET", "/v1/me"), api.call("GET", "/v1/openapi.json")):
        assert r.body.endswith(b"}\n"), r.body[-40:]


def test_a_problem_whose_field_error_names_request_id_still_gets_its_request_id() -> None:
    import json

    from chalicelib.edge import with_request_id

    body = '{"code":"validation_failed","errors":[{"field":"request_id","message":"Input should be a valid string"}]}'
    assert json.loads(with_request_id(body, "req-1"))["request_id"] == "req-1"
    stamped = with_request_id(body, "req-1")
    assert with_request_id(stamped, "req-2") == stamped  # one it already has is kept
