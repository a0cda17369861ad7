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
from chalicelib.local.serial import serialised
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
REFUSE: set[str] = set()


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

    @router.route(
        "/test/deposits-claimed-in-tx",
        "POST",
        roles=web.CONSUMER,
        body=DepositIn,
        response=DepositView,
        status=201,
        idempotent=True,
        claim_in_tx=True,
        render=lambda r: DepositView(**r),
    )
    def create_deposit_claimed_in_tx(ctx: web.Ctx) -> dict:
        """A test deposit whose Idempotency-Key is claimed by its own transaction."""
        if ctx.user_id in REFUSE:
            raise errors.conflict("refused_now", "refused on this try")
        return deposit(ctx.user_id, ctx.body.amount_fen, ctx.idem, GATE.get(ctx.user_id))

    app = Chalice(app_name="idem-test")
    web.mount(app, [router])
    return app


@pytest.fixture(params=["/test/deposits", "/test/deposits-claimed-in-tx"], ids=["claim-first", "claim-in-tx"])
def path(request: pytest.FixtureRequest) -> str:
    """Both ways of claiming a key: a claim call first, or inside the effect's transaction."""
    return str(request.param)


@pytest.fixture
def tapi() -> Iterator[Api]:
    with Client(make_app()) as client:
        yield Api(client)


def cash(user_id: str) -> int:
    b = ledger.balances(ledger.user_account(user_id)).get(ledger.CASH)
    return int(b.balance) if b else 0


def test_same_key_same_body_replays_byte_for_byte(tapi: Api, path: str) -> None:
    first = tapi.post(path, {"amount_fen": 500}, as_="u1", idem="key-00000001")
    again = tapi.post(path, {"amount_fen": 500}, as_="u1", idem="key-00000001")
    assert first.status_code == again.status_code == 201
    assert first.body == again.body
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert cash("u1") == 500


def test_same_key_other_body_is_422(tapi: Api, path: str) -> None:
    tapi.post(path, {"amount_fen": 500}, as_="u1", idem="key-00000002")
    r = tapi.post(path, {"amount_fen": 501}, as_="u1", idem="key-00000002")
    assert r.status_code == 422 and r.json["code"] == "idempotency_key_reused"
    assert cash("u1") == 500


def test_keys_are_per_user(tapi: Api, path: str) -> None:
    tapi.post(path, {"amount_fen": 500}, as_="u1", idem="key-00000003")
    r = tapi.post(path, {"amount_fen": 500}, as_="u2", idem="key-00000003")
    assert r.status_code == 201 and "Idempotent-Replayed" not in r.headers
    assert cash("u1") == cash("u2") == 500


def test_missing_or_malformed_key_is_400(tapi: Api, path: str) -> None:
    assert tapi.post(path, {"amount_fen": 5}, as_="u1").json["code"] == "missing_idempotency_key"
    assert tapi.post(path, {"amount_fen": 5}, as_="u1", idem="x").json["code"] == "invalid_idempotency_key"


def test_a_request_that_fails_validation_stores_nothing(tapi: Api, path: str) -> None:
    assert tapi.post(path, {"amount_fen": 1.5}, as_="u1", idem="key-00000004").status_code == 400
    assert tapi.post(path, {"amount_fen": 7}, as_="u1", idem="key-00000004").status_code == 201


def test_a_refused_request_replays_its_refusal(tapi: Api, path: str) -> None:
    first = tapi.post(path, {"amount_fen": 13}, as_="u1", idem="key-00000005")
    again = tapi.post(path, {"amount_fen": 13}, as_="u1", idem="key-00000005")
    assert first.status_code == again.status_code == 409
    # The same problem, each naming the request it answers.
    assert first.json.pop("request_id") != again.json.pop("request_id") and first.json == again.json


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


def test_the_record_expires_after_its_lifetime(tapi: Api, path: str) -> None:
    tapi.post(path, {"amount_fen": 5}, as_="u1", idem="key-00000007")
    rec = IdempotencyRecord.get(f"u1|POST {path}|key-00000007")
    assert rec.expires_at - int(clock.now().timestamp()) == 86400
    clock.advance(86401)
    r = tapi.post(path, {"amount_fen": 5}, as_="u1", idem="key-00000007")
    assert "Idempotent-Replayed" not in r.headers and cash("u1") == 10


def test_duplicates_racing_through_a_claim_in_tx_move_money_once(tapi: Api) -> None:
    """Both pass every read before either commits: the transaction's claim lets one win,
    the other answers with the winner's response."""
    GATE["racer"] = threading.Event()
    results: list[Any] = []

    def send() -> None:
        results.append(tapi.post("/test/deposits-claimed-in-tx", {"amount_fen": 9}, as_="racer", idem="key-00000008"))

    threads = [threading.Thread(target=send) for _ in range(2)]
    with serialised():  # moto's transactions are atomic only one at a time (as DynamoDB's are)
        for t in threads:
            t.start()
        threading.Event().wait(0.2)  # both are held at the gate, inside the handler
        GATE["racer"].set()
        for t in threads:
            t.join()
    assert sorted(r.status_code for r in results) == [201, 201]
    assert results[0].body == results[1].body
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in results) == 1
    assert cash("racer") == 9


def test_a_retry_that_would_now_be_refused_replays_the_earlier_success(tapi: Api) -> None:
    first = tapi.post("/test/deposits-claimed-in-tx", {"amount_fen": 5}, as_="u3", idem="key-00000009")
    REFUSE.add("u3")
    try:
        again = tapi.post("/test/deposits-claimed-in-tx", {"amount_fen": 5}, as_="u3", idem="key-00000009")
    finally:
        REFUSE.discard("u3")
    assert (first.status_code, again.status_code) == (201, 201) and first.body == again.body
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert cash("u3") == 5
