"""Domain errors with stable codes, rendered once as RFC 9457 problem+json."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE_BASE = "https://paylater.example/problems/"


@dataclass
class FieldError:
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


@dataclass
class ApiError(Exception):
    """Any failure a client can see. `code` is the stable machine-readable name."""

    status: int
    code: str
    detail: str
    errors: list[FieldError] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(f"{self.code}: {self.detail}")

    @property
    def title(self) -> str:
        return TITLES.get(self.status, "Error")

    def body(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "type": PROBLEM_TYPE_BASE + self.code,
            "title": self.title,
            "status": self.status,
            "code": self.code,
            "detail": self.detail,
        }
        if self.errors:
            doc["errors"] = [e.as_dict() for e in self.errors]
        return doc

    def render(self) -> str:
        return json.dumps(self.body(), ensure_ascii=False, separators=(",", ":"))


TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


def bad_request(code: str, detail: str, errors: list[FieldError] | None = None) -> ApiError:
    return ApiError(400, code, detail, errors or [])


def unauthorized(code: str, detail: str) -> ApiError:
    return ApiError(401, code, detail, headers={"WWW-Authenticate": 'Bearer realm="paylater"'})


def forbidden(code: str, detail: str) -> ApiError:
    return ApiError(403, code, detail)


def not_found(code: str, detail: str) -> ApiError:
    return ApiError(404, code, detail)


def conflict(code: str, detail: str) -> ApiError:
    return ApiError(409, code, detail)


def unprocessable(code: str, detail: str, errors: list[FieldError] | None = None) -> ApiError:
    return ApiError(422, code, detail, errors or [])


def unavailable(code: str, detail: str) -> ApiError:
    return ApiError(503, code, detail, headers={"Retry-After": "1"})


def illegal_transition(entity: str, current: str, action: str) -> ApiError:
    """The state machine refused: stable code `illegal_transition`."""
    return ApiError(409, "illegal_transition", f"cannot {action} a {entity} that is {current}")


# Every code the API can answer with, for the OpenAPI document and client authors.
COMMON_CODES = {
    400: [
        "malformed_json",
        "validation_failed",
        "invalid_cursor",
        "missing_idempotency_key",
        "invalid_idempotency_key",
    ],
    401: ["token_missing", "token_invalid", "token_expired", "account_closed"],
    403: ["forbidden_role"],
    413: ["payload_too_large"],
    415: ["unsupported_media_type"],
    503: ["temporarily_unavailable"],
}
