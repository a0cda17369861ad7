"""DynamoDB failing as the service does (issue 30): a store fault answers 503
`temporarily_unavailable` with nothing half-done, a lost race its 409, anything else a 500
whose log line says what the store answered (never an item: PII)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pynamodb.exceptions import TransactWriteError

from chalicelib import db
from tests.conftest import Api, new_key
from tests.support.fulfilment import payable, place, product, ship  # noqa: F401 - `product` is a fixture
from tests.support.logs import Lines, log_lines  # noqa: F401 - `log_lines` is a fixture
from tests.support.model_based import Faults


@pytest.fixture
def shipped(api: Api, activated_user: str, product: dict[str, Any]) -> str:  # noqa: F811
    order_id = place(api, activated_user, product)
    assert ship(api, order_id).status_code == 200
    return order_id


@pytest.mark.parametrize("fault", ["ThrottlingError", "TransactionConflict", "lost_answer", "InternalServerError"])
def test_receipt_whose_transaction_fails_in_the_store_is_a_503(
    api: Api, activated_user: str, shipped: str, faults: Faults, fault: str
) -> None:
    """Regression (`make soak`): a transaction cancelled for throttling was a 500."""
    faults.arm([(0, fault)], only="TransactWriteItems")
    r = api.post(f"/v1/orders/{shipped}/receipt", as_=activated_user)
    faults.enabled = False
    assert r.status_code == 503, r.json
    assert r.json["code"] == "temporarily_unavailable"
    order = api.get(f"/v1/orders/{shipped}", as_=activated_user).json
    if fault == "lost_answer":  # it took effect: the retry is told so
        assert order["status"] == "received" and payable() > 0
        again = api.post(f"/v1/orders/{shipped}/receipt", as_=activated_user)
        assert again.json["code"] == "illegal_transition"
    else:  # nothing half-done: the retry does it
        assert order["status"] == "shipped" and payable() == 0
        assert api.post(f"/v1/orders/{shipped}/receipt", as_=activated_user).status_code == 200
    assert faults.injected[fault] == 1


def _cancelled(*reasons: str) -> TransactWriteError:
    from botocore.exceptions import ClientError
    from pynamodb.connection.base import VerboseClientError
    from pynamodb.exceptions import CancellationReason

    error = {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"}
    cause = VerboseClientError(
        {"Error": error},
        "TransactWriteItems",
        {},
        cancellation_reasons=[None if r == "None" else CancellationReason(code=r, message=f"{r}!") for r in reasons],
    )
    assert isinstance(cause, ClientError)
    return TransactWriteError("Failed to write transaction items", cause)


def test_which_cancellations_are_worth_a_retry() -> None:
    assert db.is_retryable(_cancelled("None", "ThrottlingError"))
    assert db.is_retryable(_cancelled("TransactionConflict", "ProvisionedThroughputExceeded"))
    assert not db.is_retryable(_cancelled("ThrottlingError", "ValidationError"))
    assert not db.is_retryable(_cancelled("None", "ConditionalCheckFailed"))


def test_an_unclassified_store_error_is_a_500_whose_log_says_what_the_store_answered(
    api: Api,
    activated_user: str,
    shipped: str,
    faults: Faults,
    log_lines: Lines,  # noqa: F811
) -> None:
    """A cancellation for a reason no retry cures (here an item too large): the 500 names the
    store's code, and the log line carries its message and each item's reason, never an item."""
    original = faults._call

    def cancelled(conn: Any, operation: str, kwargs: dict[str, Any]) -> Any:
        if operation != "TransactWriteItems":
            return original(conn, operation, kwargs)
        from botocore.exceptions import ClientError

        reasons: list[dict[str, Any]] = [{"Code": "None"} for _ in kwargs["TransactItems"]]
        reasons[-1] = {
            "Code": "ValidationError",
            "Message": "Item size too large",
            "Item": {"phone": {"S": "13800138000"}},
        }
        error = {"Code": "TransactionCanceledException", "Message": "Transaction cancelled [None, ValidationError]"}
        raise ClientError({"Error": error, "CancellationReasons": reasons}, operation)  # type: ignore[typeddict-unknown-key]

    faults._call = cancelled  # type: ignore[method-assign]
    r = api.post(f"/v1/orders/{shipped}/receipt", as_=activated_user)
    lines = log_lines()
    assert r.status_code == 500 and r.json["code"] == "internal_error"
    assert "TransactionCanceledException" in r.json["detail"]
    [line] = [x for x in lines if x["message"] == "unhandled error"]
    assert line["error"] == "TransactWriteError" and line["route"] == "POST /v1/orders/{order_id}/receipt"
    assert line["store_code"] == "TransactionCanceledException"
    assert line["store_message"] == "Transaction cancelled [None, ValidationError]"
    assert line["cancellation_reasons"][-1] == {"code": "ValidationError", "message": "Item size too large"}
    assert set(line["cancellation_reasons"][:-1]) == {None}
    assert "13800138000" not in json.dumps(lines)


@pytest.mark.parametrize(("operation", "index"), [("UpdateItem", 0), ("TransactWriteItems", 2)])
def test_closure_stands_when_the_store_fails_after_it_and_its_timer_erases(
    api: Api, activated_user: str, shipped: str, faults: Faults, operation: str, index: int
) -> None:
    """Regression (`make soak`): a store fault after the closure committed (erasing a kept
    order's address, or disarming `closure_scrub`) answered 503 for an account already closed."""
    from chalicelib import schedules
    from chalicelib.clock import clock
    from chalicelib.models.orders import Order
    from chalicelib.services.erasure import ERASED_ADDRESS

    uid = activated_user
    assert api.post(f"/v1/orders/{shipped}/receipt", as_=uid).status_code == 200
    paid = api.post(f"/v1/orders/{shipped}/payments", {"channel": "card"}, as_=uid, idem=new_key())
    assert paid.status_code in (200, 201), paid.json
    faults.arm([(index, "ThrottlingException")], only=operation)
    r = api.post("/v1/me/closure", as_=uid)
    faults.enabled = False
    assert faults.injected["ThrottlingException"] == 1
    assert r.status_code == 200, r.json
    assert api.get("/v1/me", as_=uid).json["code"] == "account_closed"
    schedules.run("purge_closed_accounts", clock.now())  # the timer the closure armed
    assert Order.get(shipped).address == ERASED_ADDRESS


@pytest.fixture
def eligible(api: Api, verified_user: str) -> str:
    assert api.post("/v1/me/bank-cards", {"card_number": "6222020200112233446"}, as_=verified_user).status_code == 201
    assert api.put("/v1/me/payment-password", {"password": "135790"}, as_=verified_user).status_code == 200
    return verified_user


def test_activation_whose_answer_was_lost_replays_it(api: Api, eligible: str, faults: Faults) -> None:
    """Regression: an activation whose answer was lost after its commit answered 503, and its
    retry with the same key 409 `already_activated` (the answer is now staged in the commit)."""
    from chalicelib.config import settings

    body, key = {"agreement_version": settings().rules.agreement_version}, new_key()
    faults.arm([(0, "lost_answer")], only="TransactWriteItems")
    first = api.post("/v1/bnpl/activation", body, as_=eligible, idem=key)
    faults.enabled = False
    assert first.status_code == 503, first.json
    again = api.post("/v1/bnpl/activation", body, as_=eligible, idem=key)
    assert again.status_code == 201, again.json
    assert again.json["status"] == "active" and again.json["credit"]["used_fen"] == 0
    assert again.json["credit"] == api.get("/v1/wallet", as_=eligible).json["credit"]
