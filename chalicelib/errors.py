"""Domain errors with stable codes, rendered once as RFC 9457 problem+json."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE_BASE = "https://paylater.example/problems/"


@dataclass
class FieldError:
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class DomainError(Exception):
    """A refusal by the product's rules, by kind (the subclasses below); `code` is the
    stable machine-readable name, `detail` the sentence for people. Services, the ledger
    and the store raise these and know no HTTP: the edge gives each kind its status, in
    one table (`web.STATUS`), and renders it as RFC 9457 problem+json."""

    def __init__(self, code: str, detail: str, errors: list[FieldError] | None = None, *, retryable: bool = False):
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail
        self.errors = errors or []
        # A lost race on a conditional write (the item moved since it was read): a caller
        # that re-reads may retry. Settlement retries on exactly these.
        self.retryable = retryable


class BadRequest(DomainError):
    """The request itself is malformed."""


class Unauthorized(DomainError):
    """No valid credentials."""


class Forbidden(DomainError):
    """Credentials valid, but not for this."""


class NotFound(DomainError):
    """No such thing (or not the caller's)."""


class Conflict(DomainError):
    """The state does not allow it (an illegal transition, a lost race, a duplicate)."""


class PaymentDeclined(DomainError):
    """The payment channel refused the money."""


class Unprocessable(DomainError):
    """Well-formed, but against a rule of the product."""


class Locked(DomainError):
    """Locked for a while (too many wrong tries)."""


class Unavailable(DomainError):
    """A dependency is busy; retry shortly."""


class RateLimited(DomainError):
    """Too many requests for now; retry after a while."""


class ApiError(DomainError):
    """A problem with its HTTP status: what the edge renders (and raises itself for what
    only HTTP knows: a body too large, a content type)."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(code, detail, errors)
        self.status = status
        self.headers = headers or {}

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
        return json.dumps(self.body(), ensure_ascii=False, separators=(",", ":")) + "\n"


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
    423: "Locked",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


def bad_request(code: str, detail: str, errors: list[FieldError] | None = None) -> DomainError:
    return BadRequest(code, detail, errors)


def unauthorized(code: str, detail: str) -> DomainError:
    return Unauthorized(code, detail)


def forbidden(code: str, detail: str) -> DomainError:
    return Forbidden(code, detail)


def not_found(code: str, detail: str) -> DomainError:
    return NotFound(code, detail)


def conflict(code: str, detail: str, *, retryable: bool = False) -> DomainError:
    return Conflict(code, detail, retryable=retryable)


def moved(code: str, detail: str) -> DomainError:
    """Conflict: what the transaction was conditioned on changed meanwhile; re-read and retry."""
    return conflict(code, detail, retryable=True)


def state_changed(detail: str) -> DomainError:
    """The common `moved` code, `state_changed`."""
    return moved("state_changed", detail)


def unprocessable(code: str, detail: str, errors: list[FieldError] | None = None) -> DomainError:
    return Unprocessable(code, detail, errors)


def unavailable(code: str, detail: str) -> DomainError:
    return Unavailable(code, detail)


def illegal_transition(entity: str, current: str, action: str) -> DomainError:
    """The state machine refused: stable code `illegal_transition`."""
    article = "an" if entity[:1] in "aeiou" else "a"
    return Conflict("illegal_transition", f"cannot {action} {article} {entity} that is {current}")


@dataclass(frozen=True)
class Raises:
    """What a service operation may refuse with, declared beside it: (kind, code) pairs.
    A route documents the declarations of the services it calls (`errors=` on the route,
    joined with `|`); the edge gives each kind its status (`web.STATUS`). A test ties them
    (tests/architecture/test_declared_errors.py): a route's codes are declared by a service
    it calls, and a code a service raises is declared by its module."""

    pairs: frozenset[tuple[type[DomainError], str]]

    def __or__(self, other: Raises) -> Raises:
        return Raises(self.pairs | other.pairs)

    def codes(self) -> set[str]:
        return {code for _, code in self.pairs}


def raises(
    *,
    bad_request: Iterable[str] = (),
    payment_declined: Iterable[str] = (),
    forbidden: Iterable[str] = (),
    not_found: Iterable[str] = (),
    conflict: Iterable[str] = (),
    unprocessable: Iterable[str] = (),
    locked: Iterable[str] = (),
    unavailable: Iterable[str] = (),
) -> Raises:
    """A declaration by kind: `raises(not_found=["order_not_found"], conflict=["illegal_transition"])`."""
    by_kind: dict[type[DomainError], Iterable[str]] = {
        BadRequest: bad_request,
        PaymentDeclined: payment_declined,
        Forbidden: forbidden,
        NotFound: not_found,
        Conflict: conflict,
        Unprocessable: unprocessable,
        Locked: locked,
        Unavailable: unavailable,
    }
    return Raises(frozenset((kind, code) for kind, codes in by_kind.items() for code in codes))


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
    # Answered by the gateway's throttling (its Gateway Response) or a RateLimited refusal.
    429: ["rate_limited"],
    503: ["temporarily_unavailable"],
}
