"""Idempotency-Key: replay byte for byte, reuse with another body, in flight, failures."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from chalice.app import Chalice
from chalice.test import Client

from chalicelib import errors, ledger, web
from chalicelib.clock import clock
from chalicelib.db import Tx
from chalicelib.idempotency import IdemScope
from chalicelib.ledger import Leg
from chalicelib.models.idempotency import IdempotencyRecord
from chalicelib.schemas.common import Body, PositiveFen, View
from tests.conftest import Api


class DepositIn(Body):
    amount_fen: PositiveFen


class DepositView(View):
    deposit_id: str
    amount_fen: int


def deposit(user_id: str, amount_fen: int, idem: IdemScope | None, gate: threading.Event | None = None) -> dict:
    """A money-moving effect: cash credited through the ledger, response staged in the same tx."""
    if gate is not None:
        gate.wait(5)
    if amount_fen == 13:
        raise errors.conflict("unlucky", "thirteen is refused")
    deposit_id = uuid.uuid4().hex
    tx = Tx()
    ledger.post(
        tx,
        event_id=f"deposit:{deposit_id}",
        kind="test_deposit",
        at=clock.now(),
        legs=[Leg(ledger.user_account(user_id), ledger.CASH, amount_fen), Leg(ledger.PLATFORM, "test", -amount_fen)],
    )
    result = {"deposit_id": deposit_id, "amount_fen": amount_fen}
    if idem:
        idem.stage(tx, result)
    tx.commit()
    return result


GATE: dict[str, threading.Event] = {}


def make_app() -> Chalice:
    router = web.Router("test")

    @router.route(
        "/test/deposits",
        "POST",
        roles=web.CONSUMER,
        body=DepositIn,
        response=DepositView,
        status=201,
        idempotent=True,
        render=lambda r: DepositView(**r),
    )
    def create_deposit(ctx: web.Ctx) -> dict:
        """A test deposit."""
        return deposit(ctx.user_id, ctx.body.amount_fen, ctx.idem, GATE.get(ctx.user_id))

    app = Chalice(app_name="idem-test")
    web.mount(app, [router])
    return app


@pytest.fixture
def tapi() -> Iterator[Api]:
    with Client(make_app()) as client:
        yield Api(client)


def cash(user_id: str) -> int:
    b = ledger.balances(ledger.user_account(user_id)).get(ledger.CASH)
    return int(b.balance) if b else 0


def test_same_key_same_body_replays_byte_for_byte(tapi: Api) -> None:
    first = tapi.post("/test/deposits", {"amount_fen": 500}, as_="u1", idem="key-00000001")
    again = tapi.post("/test/deposits", {"amount_fen": 500}, as_="u1", idem="key-00000001")
    assert first.status_code == again.status_code == 201
    assert first.body == again.body
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert cash("u1") == 500


def test_same_key_other_body_is_422(tapi: Api) -> None:
    tapi.post("/test/deposits", {"amount_fen": 500}, as_="u1", idem="key-00000002")
    r = tapi.post("/test/deposits", {"amount_fen": 501}, as_="u1", idem="key-00000002")
    assert r.status_code == 422 and r.json["code"] == "idempotency_key_reused"
    assert cash("u1") == 500


def test_keys_are_per_user(tapi: Api) -> None:
    tapi.post("/test/deposits", {"amount_fen": 500}, as_="u1", idem="key-00000003")
    r = tapi.post("/test/deposits", {"amount_fen": 500}, as_="u2", idem="key-00000003")
    assert r.status_code == 201 and "Idempotent-Replayed" not in r.headers
    assert cash("u1") == cash("u2") == 500


def test_missing_or_malformed_key_is_400(tapi: Api) -> None:
    assert tapi.post("/test/deposits", {"amount_fen": 5}, as_="u1").json["code"] == "missing_idempotency_key"
    assert tapi.post("/test/deposits", {"amount_fen": 5}, as_="u1", idem="x").json["code"] == "invalid_idempotency_key"


def test_a_request_that_fails_validation_stores_nothing(tapi: Api) -> None:
    assert tapi.post("/test/deposits", {"amount_fen": 1.5}, as_="u1", idem="key-00000004").status_code == 400
    assert tapi.post("/test/deposits", {"amount_fen": 7}, as_="u1", idem="key-00000004").status_code == 201


def test_a_refused_request_replays_its_refusal(tapi: Api) -> None:
    first = tapi.post("/test/deposits", {"amount_fen": 13}, as_="u1", idem="key-00000005")
    again = tapi.post("/test/deposits", {"amount_fen": 13}, as_="u1", idem="key-00000005")
    assert first.status_code == again.status_code == 409 and first.body == again.body


def test_a_request_in_flight_is_409(tapi: Api) -> None:
    GATE["slow"] = threading.Event()
    results: list[Any] = []
    t = threading.Thread(
        target=lambda: results.append(tapi.post("/test/deposits", {"amount_fen": 9}, as_="slow", idem="key-00000006"))
    )
    t.start()
    try:
        for _ in range(100):
            if IdempotencyRecord.count("slow|POST /test/deposits|key-00000006"):
                break
            threading.Event().wait(0.02)
        r = tapi.post("/test/deposits", {"amount_fen": 9}, as_="slow", idem="key-00000006")
        assert r.status_code == 409 and r.json["code"] == "idempotency_in_flight"
    finally:
        GATE["slow"].set()
        t.join()
    assert results[0].status_code == 201
    assert cash("slow") == 9


def test_the_record_expires_after_its_lifetime(tapi: Api) -> None:
    tapi.post("/test/deposits", {"amount_fen": 5}, as_="u1", idem="key-00000007")
    rec = IdempotencyRecord.get("u1|POST /test/deposits|key-00000007")
    assert rec.expires_at - int(clock.now().timestamp()) == 86400
    clock.advance(86401)
    r = tapi.post("/test/deposits", {"amount_fen": 5}, as_="u1", idem="key-00000007")
    assert "Idempotent-Replayed" not in r.headers and cash("u1") == 10
