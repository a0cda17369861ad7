"""Services raise domain errors by kind; the HTTP edge maps each kind to its status in one
table (`web.STATUS`), with the code unchanged."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from chalicelib import errors, web
from chalicelib.db import connection
from tests.conftest import Api, new_key
from tests.support.shopping import ADDRESS, create_product


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


def test_a_throttled_batch_read_is_a_503_to_retry_never_a_500(api: Api, activated_user: str) -> None:
    """`batch.get_many` calls BatchGetItem itself: a throttle there is botocore's own
    ClientError (not PynamoDB's), and must still answer 503 `temporarily_unavailable`."""
    product = create_product(api)
    client = connection().client

    def throttle(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "BatchGetItem")

    body = {"items": [{"sku_id": product["skus"][0]["sku_id"], "quantity": 1}], "payment_method": "bnpl"}
    client.meta.events.register("before-call.dynamodb.BatchGetItem", throttle, unique_id="throttle")
    try:
        r = api.post("/v1/checkout", {**body, "address": ADDRESS}, as_=activated_user, idem=new_key())
    finally:
        client.meta.events.unregister("before-call.dynamodb.BatchGetItem", unique_id="throttle")
    assert (r.status_code, r.json["code"]) == (503, "temporarily_unavailable"), r.json


def test_every_status_a_domain_error_maps_to_has_its_title() -> None:
    """A 423 payment_password_locked said "title": "Error"; every status the edge answers
    has its RFC 9110 name."""
    for status in web.STATUS.values():
        assert errors.ApiError(status, "x", "y").title == errors.TITLES[status] != "Error", status
    assert errors.ApiError(423, "payment_password_locked", "y").title == "Locked"
