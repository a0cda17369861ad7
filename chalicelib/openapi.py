"""The OpenAPI 3.1 document, generated from the routers' records and pydantic schemas."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from .errors import COMMON_CODES, PROBLEM_JSON, TITLES
from .web import JSON, Router, RouteSpec

PARAM = re.compile(r"{([^}]+)}")

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "code", "detail", "request_id"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "code": {"type": "string", "description": "stable machine-readable error code"},
        "detail": {"type": "string"},
        "request_id": {"type": "string", "description": "the answer's X-Request-Id (quote it to support)"},
        "errors": {"type": "array", "items": {"$ref": "#/components/schemas/FieldError"}},
    },
}
# One named item: a generator that visits Problem more than once (each narrowed problem
# below) would otherwise meet an inline item twice and refuse the second.
FIELD_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["field", "message"],
    "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
}


# A raw-body route is a payment channel's callback: it answers in the channel's protocol
# (Alipay: text "success"/"failure"; WeChat Pay and the card gateway: JSON), not problem+json.
CHANNEL_CONTENT: dict[str, Any] = {"text/plain": {"schema": {"type": "string"}}, JSON: {"schema": {"type": "object"}}}


def _error_statuses(spec: RouteSpec) -> dict[int, list[str]]:
    statuses: dict[int, list[str]] = {}
    statuses.setdefault(400, []).extend(COMMON_CODES[400])
    statuses.setdefault(413, []).extend(COMMON_CODES[413])
    statuses.setdefault(415, []).extend(COMMON_CODES[415])
    statuses.setdefault(429, []).extend(COMMON_CODES[429])
    statuses.setdefault(500, []).append("internal_error")
    statuses.setdefault(503, []).extend(COMMON_CODES[503])
    if spec.roles:
        statuses.setdefault(401, []).extend(COMMON_CODES[401])
        statuses.setdefault(403, []).extend(COMMON_CODES[403])
    if PARAM.search(spec.path):
        statuses.setdefault(404, []).append("not_found")
    if spec.idempotent:
        statuses.setdefault(409, []).append("idempotency_in_flight")
        statuses.setdefault(422, []).append("idempotency_key_reused")
    for status, codes in spec.errors.items():
        statuses.setdefault(status, []).extend(codes)
    return {s: sorted(set(c)) for s, c in sorted(statuses.items())}


def problem_schema(code_enum: str) -> dict[str, Any]:
    """The one `Problem`, its `code` narrowed to the named enum of the codes this response can
    carry: a client handles every error as a Problem and may switch on an operation's codes.

    `allOf` holds the `$ref` alone and the narrowing sits beside it (JSON Schema applies
    both): openapi-python-client then parses every error as its one `Problem` class (an
    `allOf` of two parts would be a flattened copy per response, with no common base) and
    still generates each code enum (a named component), while openapi-typescript makes
    `Problem & {code?: <enum>}`, so an answer's status narrows its `code`.
    """
    return {
        "allOf": [{"$ref": "#/components/schemas/Problem"}],
        "properties": {"code": {"$ref": f"#/components/schemas/{code_enum}"}},
    }


def code_enum_schema(codes: list[str]) -> dict[str, Any]:
    return {"type": "string", "enum": codes}


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


# The answers most operations share are one named component each (`UnauthorizedProblem`,
# its codes `UnauthorizedProblemCode`); an operation's own codes are the enum
# `<Operation>Response<status>Code` (`ConfirmOrderResponse409Code`); each is `Problem` narrowed.
SHARED_PROBLEMS: dict[int, list[str]] = {
    **{status: sorted(codes) for status, codes in COMMON_CODES.items()},
    404: ["not_found"],
    500: ["internal_error"],
}


# On an answer replayed for a repeated Idempotency-Key (the first answer, byte for byte).
REPLAYED = {
    "description": 'present ("true") when this is the stored answer to an earlier request with the same key',
    "schema": {"type": "string", "enum": ["true"]},
}


# Headers every answer, or every answer of a kind, carries (components/headers).
HEADERS: dict[str, Any] = {
    "X-Request-Id": {
        "description": "this request's id: the caller's X-Correlation-Id when it sent one, else a new one; "
        "problem bodies carry it as `request_id`, and every log line of the request names it",
        "schema": {"type": "string"},
    },
    "Retry-After": {
        "description": "seconds to wait before retrying",
        "schema": {"type": "integer", "minimum": 0},
    },
}
# The statuses that ask a caller to come back later.
RETRY_AFTER = frozenset({429, 503})
CORRELATION_PARAMETER: dict[str, Any] = {
    "name": "X-Correlation-Id",
    "in": "header",
    "required": False,
    "description": "the caller's id for this request: when it is 1-128 letters, digits, '.', '_', ':' "
    "or '-', it is echoed as X-Request-Id and logged; any other value is ignored (not refused)",
    "schema": {"type": "string"},
}


def _headers(*names: str) -> dict[str, Any]:
    return {name: {"$ref": f"#/components/headers/{name}"} for name in names}


def _shared_problem_name(status: int) -> str:
    return TITLES[status].title().replace(" ", "") + "Problem"


def build(routers: Iterable[Router], *, title: str, version: str, include_local: bool) -> dict[str, Any]:
    specs = [s for r in routers for s in r.routes if s.documented and (include_local or not s.local_only)]
    models: list[tuple[type[BaseModel], Any]] = []
    for spec in specs:
        for model, mode in ((spec.body, "validation"), (spec.response, "serialization")):
            if model is not None and (model, mode) not in models:
                models.append((model, mode))
    refs, defs = models_json_schema(models, ref_template="#/components/schemas/{model}")
    paths: dict[str, Any] = {}
    query_defs: dict[str, Any] = {}
    code_enums: dict[str, Any] = {}
    for spec in specs:
        paths.setdefault(spec.path, {})[spec.method.lower()] = _operation(spec, refs, query_defs, code_enums)
    schemas = _tidy({**query_defs, **defs.get("$defs", {})})
    schemas["Problem"] = PROBLEM_SCHEMA
    schemas["FieldError"] = FIELD_ERROR_SCHEMA
    for status, codes in SHARED_PROBLEMS.items():
        schemas[_shared_problem_name(status) + "Code"] = code_enum_schema(codes)
        schemas[_shared_problem_name(status)] = problem_schema(_shared_problem_name(status) + "Code")
    clashes = set(code_enums) & set(schemas)
    assert not clashes, f"a code enum's name is taken: {clashes}"
    schemas.update(code_enums)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "headers": HEADERS,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }


def _operation(
    spec: RouteSpec, refs: dict[Any, Any], query_defs: dict[str, Any], code_enums: dict[str, Any]
) -> dict[str, Any]:
    """One route's operation; a named enum its query takes is added to `query_defs`, the
    enum of an operation's own error codes to `code_enums`."""
    op: dict[str, Any] = {
        "operationId": spec.name,
        "summary": spec.summary,
        "tags": [spec.tag],
        "parameters": _parameters(spec, query_defs),
        "responses": {},
    }
    if spec.roles:
        op["security"] = [{"bearerAuth": []}]
        op["x-roles"] = list(spec.roles)
    else:
        op["security"] = []
    if spec.body is not None:
        media: dict[str, Any] = {"schema": refs[(spec.body, "validation")]}
        examples = spec.body.model_json_schema().get("examples")
        if examples:
            media["example"] = examples[0]
        op["requestBody"] = {"required": True, "content": {JSON: media}}
    elif spec.raw_body:
        op["requestBody"] = {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {"schema": {"type": "object"}},
                JSON: {"schema": {"type": "object"}},
            },
        }
    op["responses"].update(_responses(spec, refs, code_enums))
    return op


def _parameters(spec: RouteSpec, query_defs: dict[str, Any]) -> list[dict[str, Any]]:
    parameters: list[dict[str, Any]] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
        }
        for name in PARAM.findall(spec.path)
    ]
    if spec.query is not None:
        qschema = spec.query.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, definition in qschema.pop("$defs", {}).items():  # a named enum a filter takes
            query_defs.setdefault(name, definition)
        required = set(qschema.get("required", []))
        for name, prop in qschema.get("properties", {}).items():
            parameters.append({"name": name, "in": "query", "required": name in required, "schema": prop})
    if spec.idempotent:
        parameters.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": not spec.key_optional,
                "description": "the same key and body replays the first response; the same key with "
                "another body is a 422; one still in flight is a 409"
                + ("; optional here (without it a repeated call is answered afresh)" if spec.key_optional else ""),
                "schema": {"type": "string", "pattern": "^[A-Za-z0-9_\\-:.]{8,64}$"},
            }
        )
    parameters.append(CORRELATION_PARAMETER)
    return parameters


def _responses(spec: RouteSpec, refs: dict[Any, Any], code_enums: dict[str, Any]) -> dict[str, Any]:
    ok: dict[str, Any]
    if spec.response is not None:
        ok = {"description": "OK", "content": {JSON: {"schema": refs[(spec.response, "serialization")]}}}
    elif spec.raw_body and spec.status != 204:
        ok = {"description": "OK, in the channel's protocol", "content": CHANNEL_CONTENT}
    else:
        ok = {"description": "OK"}
    ok["headers"] = _headers("X-Request-Id")
    if spec.idempotent:
        ok["headers"]["Idempotent-Replayed"] = REPLAYED
    responses = {str(spec.status): ok}
    for status, codes in _error_statuses(spec).items():
        if SHARED_PROBLEMS.get(status) == codes:
            schema = {"$ref": f"#/components/schemas/{_shared_problem_name(status)}"}
        else:
            code_enum = f"{_camel(spec.name)}Response{status}Code"
            code_enums[code_enum] = code_enum_schema(codes)
            schema = problem_schema(code_enum)
        content: dict[str, Any] = {PROBLEM_JSON: {"schema": schema}}
        if spec.raw_body and status in spec.errors:
            content = {**CHANNEL_CONTENT, **content}
        headers = _headers("X-Request-Id", *(["Retry-After"] if status in RETRY_AFTER else []))
        if spec.idempotent and status < 500 and status != 429:  # a refusal is stored and replayed too
            headers["Idempotent-Replayed"] = REPLAYED
        responses[str(status)] = {
            "description": f"{TITLES.get(status, 'Error')}: " + ", ".join(codes),
            "headers": headers,
            "content": content,
        }
    return responses


NAME = re.compile(r"^[A-Z][A-Za-z0-9]*$")
# Timestamps are named `at`, `*_at`, `*_until` or `cutoff`; the service writes them as
# RFC 3339 (clock.iso).
TIMESTAMP = re.compile(r"^(at|.+_at|.+_until|cutoff)$")


def _tidy(schemas: dict[str, Any]) -> dict[str, Any]:
    """Name each `one_of` branch as its own component, mark timestamps `date-time`, and
    refuse names a generated client could not use (pydantic prefixes a module path when two
    models share a name)."""
    for schema in list(schemas.values()):
        for i, branch in enumerate(schema.get("oneOf", [])):
            if branch.get("type") == "object" and "title" in branch:
                schemas[branch["title"]] = branch
                schema["oneOf"][i] = {"$ref": f"#/components/schemas/{branch['title']}"}
    for name, schema in schemas.items():
        if not NAME.match(name):
            raise ValueError(f"component name {name!r}: give the model a unique class name")
        for prop_name, prop in schema.get("properties", {}).items():
            if TIMESTAMP.match(prop_name):
                _mark_date_time(prop)
    return schemas


def _mark_date_time(prop: dict[str, Any]) -> None:
    for option in [prop, *prop.get("anyOf", [])]:
        if option.get("type") == "string":
            option["format"] = "date-time"
