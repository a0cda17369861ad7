"""The OpenAPI document is a contract a client can be generated from: typed timestamps,
enums for statuses, kinds, channels and problem codes, named unique components, examples."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from chalicelib.schemas import kinds
from chalicelib.services import notifications

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def doc(app_module: Any) -> dict[str, Any]:
    from chalice.test import Client

    with Client(app_module.app) as client:
        import json

        return dict(json.loads(client.http.get("/v1/openapi.json").body))


def _properties(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (name, prop_name, prop)
        for name, schema in doc["components"]["schemas"].items()
        for prop_name, prop in schema.get("properties", {}).items()
    ]


def _options(prop: dict[str, Any]) -> list[dict[str, Any]]:
    return [o for o in [prop, *prop.get("anyOf", [])] if o.get("type") != "null" and "anyOf" not in o]


def test_every_timestamp_is_a_date_time(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    for name, prop in (
        ("ClosureView", "retention_until"),
        ("MeView", "payment_password_locked_until"),
        ("PayoutView", "cutoff"),
    ):
        assert any(o.get("format") == "date-time" for o in _options(schemas[name]["properties"][prop])), name
    untyped = [
        (name, p)
        for name, p, prop in _properties(doc)
        if re.match(r"^(at|.+_at|.+_until|cutoff)$", p) and any(o.get("format") != "date-time" for o in _options(prop))
    ]
    assert not untyped, untyped


def test_every_status_kind_and_channel_in_a_response_is_an_enum(doc: dict[str, Any]) -> None:
    loose = [
        (name, p)
        for name, p, prop in _properties(doc)
        if name.endswith(("View", "Page", "List", "Launch", "Payment", "Health"))
        and re.match(r"^(status|.+_status|kind|channel|.+_channel|payment_method)$", p)
        and any(o.get("type") == "string" and "enum" not in o and "const" not in o for o in _options(prop))
    ]
    assert not loose, loose


def test_each_problem_response_lists_its_codes(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    for path, item in doc["paths"].items():
        for method, op in item.items():
            for status, resp in op["responses"].items():
                if int(status) < 400:
                    continue
                schema = resp["content"]["application/problem+json"]["schema"]
                schema = schemas[schema["$ref"].rsplit("/", 1)[1]] if "$ref" in schema else schema
                # One Problem (the `$ref` alone in `allOf`), its code narrowed beside it to a
                # named enum of this answer's codes (chalicelib/openapi.py `problem_schema`).
                assert schema["allOf"] == [{"$ref": "#/components/schemas/Problem"}], (method, path, status)
                assert set(schema) == {"allOf", "properties"} and set(schema["properties"]) == {"code"}
                enum = schemas[schema["properties"]["code"]["$ref"].rsplit("/", 1)[1]]
                codes = enum["enum"]
                assert codes and all(c in resp["description"] for c in codes), (method, path, status)


def test_a_problem_body_validates_only_with_a_code_of_its_answer(doc: dict[str, Any]) -> None:
    """JSON Schema applies the narrowing beside the `$ref`: a code the answer does not
    declare is invalid (what schemathesis checks every problem against)."""
    schema = doc["paths"]["/v1/orders/{order_id}/confirmation"]["post"]["responses"]["409"]["content"]
    validator = jsonschema.Draft202012Validator(
        {**schema["application/problem+json"]["schema"], "components": doc["components"]}
    )
    problem = {"type": "about:blank", "title": "Conflict", "status": 409, "detail": "d", "request_id": "r"}
    assert validator.is_valid({**problem, "code": "challenge_used"})
    assert not validator.is_valid({**problem, "code": "order_not_found"})


def test_component_names_are_plain_and_operation_ids_unique(doc: dict[str, Any]) -> None:
    assert all(re.match(r"^[A-Z][A-Za-z0-9]*$", n) for n in doc["components"]["schemas"])
    ids = [op["operationId"] for item in doc["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))
    assert "decide_redemption" in ids and "decide" not in ids


def test_every_request_body_has_an_example_the_document_accepts(doc: dict[str, Any]) -> None:
    for path, item in doc["paths"].items():
        for method, op in item.items():
            media = op.get("requestBody", {}).get("content", {}).get("application/json")
            if media is None or "$ref" not in media["schema"]:
                continue  # a payment channel's callback: the channel's own format
            assert "example" in media, (method, path)
            schema = {**media["schema"], "components": doc["components"]}
            validator = jsonschema.Draft202012Validator(schema)
            assert validator.is_valid(media["example"]), (method, path, media["example"])


def test_launch_data_is_one_schema_per_channel(doc: dict[str, Any]) -> None:
    launch = doc["components"]["schemas"]["PaymentView"]["properties"]["launch"]
    union = next(o for o in launch["anyOf"] if "oneOf" in o)
    assert union["discriminator"]["propertyName"] == "channel"
    assert set(union["discriminator"]["mapping"]) == {"alipay", "wechat_pay"}


def test_every_kind_the_services_write_is_listed() -> None:
    """A new event or notification kind must be added to chalicelib/schemas/kinds.py, or
    rendering it would fail."""
    source = "\n".join(p.read_text() for p in (ROOT / "chalicelib").rglob("*.py"))
    events = set(re.findall(r'\bkind="([a-z_]+)"', source))
    assert events <= set(kinds.values(kinds.EventKind)), events - set(kinds.values(kinds.EventKind))
    constants = {v for k, v in vars(notifications).items() if k.startswith("PAYMENT_") and isinstance(v, str)}
    redemption = {f"redemption_{s}" for s in ("approved", "rejected", "manual_review")}
    assert constants | redemption <= set(kinds.values(kinds.NotificationKind))


def test_a_replayable_answer_declares_the_replay_header(doc: dict[str, Any]) -> None:
    """Every route taking an Idempotency-Key declares `Idempotent-Replayed` on what it may
    replay: its success and its refusals (a mobile tester found it only in the README); a
    throttled request (429) never reached the route, and a 5xx is not stored."""
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if not any(p["name"] == "Idempotency-Key" for p in op.get("parameters", [])):
                continue
            for status, response in op["responses"].items():
                if int(status) < 500 and status != "429":
                    assert "Idempotent-Replayed" in response.get("headers", {}), (method, path, status)


def test_every_answer_declares_its_request_id_and_throttling_says_when_to_retry(doc: dict[str, Any]) -> None:
    headers = doc["components"]["headers"]
    assert set(headers) >= {"X-Request-Id", "Retry-After"}
    assert "request_id" in doc["components"]["schemas"]["Problem"]["required"]
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert any(p["name"] == "X-Correlation-Id" and p["in"] == "header" for p in op["parameters"]), path
            for status, response in op["responses"].items():
                assert response["headers"]["X-Request-Id"] == {"$ref": "#/components/headers/X-Request-Id"}
                if status in ("429", "503"):
                    assert "Retry-After" in response["headers"], (method, path, status)
            assert "rate_limited" in op["responses"]["429"]["description"], (method, path)


def test_the_changelog_describes_the_served_version(doc: dict[str, Any]) -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    newest = re.search(r"^## (\S+)", changelog, re.MULTILINE)
    assert newest is not None and newest.group(1) == doc["info"]["version"]
    assert (ROOT / "docs" / "deprecation.md").exists() and "docs/deprecation.md" in changelog
