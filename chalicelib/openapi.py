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
    "required": ["type", "title", "status", "code", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "code": {"type": "string", "description": "stable machine-readable error code"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}


# A raw-body route is a payment channel's callback: it answers in the channel's protocol
# (Alipay: text "success"/"failure"; WeChat Pay and the card gateway: JSON), not problem+json.
CHANNEL_CONTENT: dict[str, Any] = {"text/plain": {"schema": {"type": "string"}}, JSON: {"schema": {"type": "object"}}}


def _error_statuses(spec: RouteSpec) -> dict[int, list[str]]:
    statuses: dict[int, list[str]] = {}
    statuses.setdefault(400, []).extend(COMMON_CODES[400])
    statuses.setdefault(413, []).extend(COMMON_CODES[413])
    statuses.setdefault(415, []).extend(COMMON_CODES[415])
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


def build(routers: Iterable[Router], *, title: str, version: str, include_local: bool) -> dict[str, Any]:
    specs = [s for r in routers for s in r.routes if s.documented and (include_local or not s.local_only)]
    models: list[tuple[type[BaseModel], Any]] = []
    for spec in specs:
        for model, mode in ((spec.body, "validation"), (spec.response, "serialization")):
            if model is not None and (model, mode) not in models:
                models.append((model, mode))
    refs, defs = models_json_schema(models, ref_template="#/components/schemas/{model}")
    paths: dict[str, Any] = {}
    for spec in specs:
        op: dict[str, Any] = {
            "operationId": spec.name,
            "summary": spec.summary,
            "tags": [spec.tag],
            "parameters": [],
            "responses": {},
        }
        for name in PARAM.findall(spec.path):
            op["parameters"].append(
                {
                    "name": name,
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
                }
            )
        if spec.query is not None:
            qschema = spec.query.model_json_schema()
            required = set(qschema.get("required", []))
            for name, prop in qschema.get("properties", {}).items():
                op["parameters"].append({"name": name, "in": "query", "required": name in required, "schema": prop})
        if spec.idempotent:
            op["parameters"].append(
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": True,
                    "schema": {"type": "string", "pattern": "^[A-Za-z0-9_\\-:.]{8,64}$"},
                }
            )
        if spec.roles:
            op["security"] = [{"bearerAuth": []}]
            op["x-roles"] = list(spec.roles)
        else:
            op["security"] = []
        if spec.body is not None:
            op["requestBody"] = {
                "required": True,
                "content": {JSON: {"schema": refs[(spec.body, "validation")]}},
            }
        elif spec.raw_body:
            op["requestBody"] = {
                "required": True,
                "content": {
                    "application/x-www-form-urlencoded": {"schema": {"type": "object"}},
                    JSON: {"schema": {"type": "object"}},
                },
            }
        if spec.response is not None:
            op["responses"][str(spec.status)] = {
                "description": "OK",
                "content": {JSON: {"schema": refs[(spec.response, "serialization")]}},
            }
        elif spec.raw_body and spec.status != 204:
            op["responses"][str(spec.status)] = {
                "description": "OK, in the channel's protocol",
                "content": CHANNEL_CONTENT,
            }
        else:
            op["responses"][str(spec.status)] = {"description": "OK"}
        for status, codes in _error_statuses(spec).items():
            content: dict[str, Any] = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
            if spec.raw_body and status in spec.errors:
                content = {**CHANNEL_CONTENT, **content}
            op["responses"][str(status)] = {
                "description": f"{TITLES.get(status, 'Error')}: " + ", ".join(codes),
                "content": content,
            }
        if not op["parameters"]:
            del op["parameters"]
        paths.setdefault(spec.path, {})[spec.method.lower()] = op
    schemas = dict(defs.get("$defs", {}))
    schemas["Problem"] = PROBLEM_SCHEMA
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }
