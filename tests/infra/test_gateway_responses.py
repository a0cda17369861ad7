"""The deployed API Gateway answers its own errors (throttling, an unknown route, its 4xx
and 5xx) in the code's problem+json: the template's Gateway Responses are tested here,
against the served document and against the local server's answer to the same request."""

from __future__ import annotations

import json
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from chalice.test import Client

from tests.support.infra import infra

GATEWAY_ID = "c0ffee00-0000-4000-8000-000000000001"


@pytest.fixture(scope="module")
def doc(app_module: Any) -> dict[str, Any]:
    with Client(app_module.app) as client:
        return dict(json.loads(client.http.get("/v1/openapi.json").body))


@pytest.fixture(scope="module")
def gateway(app_module: Any) -> dict[str, Any]:
    answers = infra.build("prod", app_module.app)["Resources"]["RestAPI"]["Properties"]["GatewayResponses"]
    return dict(answers)


def _rendered(answer: dict[str, Any]) -> dict[str, Any]:
    """The body API Gateway sends: the template with its request id filled in."""
    templates = set(answer["ResponseTemplates"].values())
    assert len(templates) == 1
    return dict(json.loads(templates.pop().replace("$context.requestId", GATEWAY_ID)))


def test_throttling_unknown_routes_and_the_defaults_answer_as_problems(gateway: dict[str, Any]) -> None:
    assert {"THROTTLED", "MISSING_AUTHENTICATION_TOKEN", "DEFAULT_4XX", "DEFAULT_5XX"} <= set(gateway)
    throttled = gateway["THROTTLED"]
    assert throttled["StatusCode"] == "429"
    assert throttled["ResponseParameters"]["Headers"]["Retry-After"] == "'1'"
    assert _rendered(throttled)["code"] == "rate_limited"
    assert _rendered(gateway["MISSING_AUTHENTICATION_TOKEN"])["code"] == "no_such_operation"
    for response_type, answer in gateway.items():
        assert answer["ResponseParameters"]["Headers"]["Content-Type"] == "'application/problem+json'", response_type
        body = _rendered(answer)
        assert body["status"] == int(answer["StatusCode"]) and body["request_id"] == GATEWAY_ID, response_type
        assert set(answer["ResponseTemplates"]) == {"application/json", "application/problem+json"}


def test_each_gateway_answer_is_a_problem_the_document_declares(gateway: dict[str, Any], doc: dict[str, Any]) -> None:
    problem = {**doc["components"]["schemas"]["Problem"], "components": doc["components"]}
    operations = [op for item in doc["paths"].values() for op in item.values()]
    for response_type, answer in gateway.items():
        body = _rendered(answer)
        jsonschema.Draft202012Validator(problem).validate(body)
        if body["code"] in ("no_such_operation", "bad_request"):
            continue  # no operation's answer: the request reached none
        for op in operations:  # an operation a throttled or failed request was meant for
            response = op["responses"][str(body["status"])]
            assert body["code"] in response["description"], (response_type, op["operationId"])
            for header in answer["ResponseParameters"]["Headers"]:
                assert header == "Content-Type" or header in response["headers"], (response_type, header)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def local_url(app_module: Any) -> Iterator[str]:
    from chalice.config import Config

    from chalicelib.local.http import server as local_server

    app, original = app_module.app, type(app_module.app)
    port = _free_port()
    httpd = local_server(app, Config.create(chalice_app=app), "127.0.0.1", port)
    serving = threading.Thread(target=httpd.serve_forever, daemon=True)
    serving.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        httpd.shutdown()
        app.__class__ = original


def test_the_local_stack_and_the_cloud_answer_an_unknown_route_alike(gateway: dict[str, Any], local_url: str) -> None:
    request = urllib.request.Request(f"{local_url}/v1/no-such-thing", headers={"X-Correlation-Id": "app-7"})
    with pytest.raises(urllib.error.HTTPError) as answered:
        urllib.request.urlopen(request, timeout=30)
    local = answered.value
    body = json.loads(local.read())
    assert local.code == 403 and local.headers["Content-Type"] == "application/problem+json"
    assert local.headers["X-Request-Id"] == body["request_id"] == "app-7"
    cloud = gateway["MISSING_AUTHENTICATION_TOKEN"]
    assert int(cloud["StatusCode"]) == local.code
    assert {**_rendered(cloud), "request_id": "app-7"} == body
