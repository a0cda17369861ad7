"""Services raise domain errors by kind; the HTTP edge maps each kind to its status in one
table (`web.STATUS`), with the code unchanged."""

from __future__ import annotations

import json

from chalicelib import errors, web


def kinds() -> set[type[errors.DomainError]]:
    found: set[type[errors.DomainError]] = set()
    todo = list(errors.DomainError.__subclasses__())
    while todo:
        kind = todo.pop()
        found.add(kind)
        todo.extend(kind.__subclasses__())
    return found


def test_every_kind_of_domain_error_has_a_status_at_the_edge() -> None:
    unmapped = {k.__name__ for k in kinds() if k is not errors.ApiError and not any(b in web.STATUS for b in k.__mro__)}
    assert not unmapped


def test_a_conflict_is_a_409_problem_with_its_code_and_a_busy_store_asks_to_retry() -> None:
    answer = web.problem_response(errors.moved("order_changed", "the order changed meanwhile"))
    assert answer.status_code == 409
    assert json.loads(answer.body)["code"] == "order_changed"
    busy = web.problem_response(errors.unavailable("temporarily_unavailable", "the store is busy; retry"))
    assert (busy.status_code, busy.headers["Retry-After"]) == (503, "1")


def test_retrying_is_a_property_of_the_error_not_of_its_code() -> None:
    assert errors.moved("attempt_settled", "settled").retryable
    assert errors.state_changed("the account changed meanwhile").retryable
    assert not errors.conflict("insufficient_balance", "the balance is too low").retryable
