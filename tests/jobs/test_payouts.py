"""Merchant payouts (T+1): the payout account, run_payouts and reconciliation.

T0 is 2026-11-25 08:00 UTC = 16:00 in Beijing; the cut-off (0:00 China time) falls at
16:00 UTC, so a payable settled at T0 is paid by the first run after T0 + 8 h.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from chalicelib import ledger, schedules
from chalicelib.channels import payouts as gateway_api
from chalicelib.clock import clock
from chalicelib.config import settings
from chalicelib.db import Tx
from chalicelib.ledger import PLATFORM, Leg
from chalicelib.models.payouts import Payout
from chalicelib.services import reconcile
from tests.conftest import Api
from tests.support.fulfilment import MERCHANT, place, ship
from tests.support.fulfilment import payable as payable_of
from tests.support.fulfilment import product as product  # noqa: F401  (the fixture)
from tests.support.payouts import FAILS, GOOD, LATE_FAIL, LATE_OK, TO_CUTOFF, set_account
from tests.support.shopping import run_together


def settle(amount: int, ref: str, merchant: str = MERCHANT) -> None:
    """A merchant settlement exactly as receipt posts it (fee left out)."""
    tx = Tx()
    ledger.post(
        tx,
        event_id=f"order:{ref}:settled",
        kind="merchant_settlement",
        at=clock.now(),
        ref=ref,
        legs=[
            Leg(ledger.merchant_account(merchant), ledger.PAYABLE, amount),
            Leg(PLATFORM, "merchant_funding", -amount),
        ],
    )
    tx.commit()


def run() -> dict[str, Any]:
    return schedules.run("run_payouts", clock.now())


def listed(api: Api, merchant: str = MERCHANT) -> dict[str, Any]:
    r = api.get("/v1/merchant/payouts", as_=merchant, roles=["merchant"])
    assert r.status_code == 200, r.json
    return dict(r.json)


@pytest.fixture
def transfers(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every transfer the sandbox gateway receives (it still answers as it would)."""
    sent: list[str] = []
    real = gateway_api.SandboxPayouts.transfer

    def spy(self: gateway_api.SandboxPayouts, ref: gateway_api.TransferRef) -> gateway_api.TransferResult:
        sent.append(ref.payout_id)
        return real(self, ref)

    monkeypatch.setattr(gateway_api.SandboxPayouts, "transfer", spy)
    yield sent


def test_the_account_is_kept_as_a_token_and_never_echoed(api: Api) -> None:
    none_yet = api.get("/v1/merchant/payout-account", as_=MERCHANT, roles=["merchant"])
    assert none_yet.status_code == 404 and none_yet.json["code"] == "payout_account_not_found"
    r = set_account(api, GOOD)
    assert r.status_code == 200, r.json
    assert r.json == {
        "account_name_masked": "*********司",
        "last4": "3446",
        "bank": "招商银行",
        "updated_at": r.json["updated_at"],
    }
    assert GOOD.encode() not in r.body
    on_file = api.get("/v1/merchant/payout-account", as_=MERCHANT, roles=["merchant"])
    assert on_file.json == r.json and GOOD.encode() not in on_file.body
    assert api.get("/v1/merchant/payout-account", as_="m-someone-else", roles=["merchant"]).status_code == 404
    bad = set_account(api, "12ab")
    assert bad.status_code == 400 and b"12ab" not in bad.body
    assert set_account(api, "1" * 33).json["code"] == "invalid_account_number"


def test_a_receipt_is_paid_out_after_the_next_cut_off(
    api: Api, activated_user: str, product: dict[str, Any], transfers: list[str]
) -> None:
    set_account(api, GOOD)
    order_id = place(api, activated_user, product)
    ship(api, order_id)
    assert api.post(f"/v1/orders/{order_id}/receipt", as_=activated_user).status_code == 200
    owed = payable_of()
    assert owed > 0
    assert run()["paid"] == 0  # before the cut-off nothing is due
    clock.advance(int(TO_CUTOFF.total_seconds()))
    assert run()["paid"] == 1
    assert payable_of() == 0
    page = listed(api)
    assert page["payable_fen"] == 0
    [payout] = page["items"]
    assert payout["status"] == "paid" and payout["amount_fen"] == owed and payout["last4"] == "3446"
    assert [e["event_id"] for e in payout["entries"]] == [f"order:{order_id}:settled"]
    assert payout["entries"][0]["order_id"] == order_id
    # The merchant's ledger names the payout by its id, not as an order.
    sent = [e for e in api.get("/v1/merchant/settlements", as_=MERCHANT, roles=["merchant"]).json["items"]]
    sent = [e for e in sent if e["kind"] == "payout_sent"]
    assert [(e["payout_id"], e["order_id"], e["amount_fen"]) for e in sent] == [(payout["payout_id"], None, -owed)]
    # Running again (and again the next hour) pays nothing more.
    assert run()["paid"] == 0
    clock.advance(3600)
    assert run()["paid"] == 0
    assert len(transfers) == 1
    assert schedules.run("reconcile_ledger", clock.now())["drift"] == 0


def test_only_what_was_settled_before_the_cut_off_is_paid(api: Api) -> None:
    set_account(api, GOOD)
    settle(1000, "o-before")
    clock.advance(int(TO_CUTOFF.total_seconds()))
    settle(300, "o-after")  # after the cut-off: tomorrow's
    run()
    assert [x["amount_fen"] for x in listed(api)["items"]] == [1000]
    assert payable_of() == 300
    clock.advance(86400)
    run()
    [latest, first] = listed(api)["items"]
    assert latest["amount_fen"] == 300 and [e["event_id"] for e in latest["entries"]] == ["order:o-after:settled"]
    assert payable_of() == 0


def test_a_failed_transfer_restores_the_payable_and_is_retried_next_day(api: Api) -> None:
    set_account(api, FAILS)
    settle(1000, "o-1")
    clock.advance(int(TO_CUTOFF.total_seconds()))
    run()
    [failed] = listed(api)["items"]
    assert failed["status"] == "failed" and failed["failure_reason"] == gateway_api.ACCOUNT_INVALID
    assert payable_of() == 1000
    set_account(api, GOOD)
    assert run()["paid"] == 0  # not again the same day
    clock.advance(86400)
    assert run()["paid"] == 1
    [paid, failed_again] = listed(api)["items"]
    assert paid["status"] == "paid" and paid["amount_fen"] == 1000 and failed_again["status"] == "failed"
    assert {e["kind"] for e in paid["entries"]} == {"payout_returned"}
    assert payable_of() == 0
    assert schedules.run("reconcile_ledger", clock.now())["drift"] == 0


@pytest.mark.parametrize(("number", "outcome", "left"), [(LATE_OK, "paid", 0), (LATE_FAIL, "failed", 1000)])
def test_a_timeout_is_queried_never_sent_twice(
    api: Api, transfers: list[str], number: str, outcome: str, left: int
) -> None:
    set_account(api, number)
    settle(1000, "o-1")
    clock.advance(int(TO_CUTOFF.total_seconds()))
    run()
    [pending] = listed(api)["items"]
    assert pending["status"] == "sending" and payable_of() == 0
    run()  # before its query is due: nothing
    clock.advance(settings().rules.payout_query_seconds)
    assert run()["queried"] == 1
    [done] = listed(api)["items"]
    assert done["status"] == outcome and payable_of() == left
    assert len(transfers) == 1
    assert schedules.run("reconcile_ledger", clock.now())["drift"] == 0


def test_overlapping_runs_pay_once(api: Api, transfers: list[str]) -> None:
    set_account(api, GOOD)
    settle(1000, "o-1")
    clock.advance(int(TO_CUTOFF.total_seconds()))
    now = clock.now()
    results = run_together(*[lambda: schedules.run("run_payouts", now)] * 3)
    assert sum(r["paid"] for r in results) == 1
    assert len(transfers) == 1 and payable_of() == 0
    assert [x["amount_fen"] for x in listed(api)["items"]] == [1000]


def test_a_negative_payable_is_carried_not_paid(api: Api, activated_user: str, product: dict[str, Any]) -> None:
    set_account(api, GOOD)
    order_id = place(api, activated_user, product)
    ship(api, order_id)
    api.post(f"/v1/orders/{order_id}/receipt", as_=activated_user)
    owed = payable_of()
    clock.advance(int(TO_CUTOFF.total_seconds()))
    run()
    # The goods come back after the money was paid out: the payable goes below zero.
    r = api.post(f"/v1/orders/{order_id}/return-requests", {"reason": "不合适"}, as_=activated_user)
    d = api.post(
        f"/v1/merchant/return-requests/{r.json['request_id']}/decision",
        {"decision": "approve", "note": "ok"},
        as_=MERCHANT,
        roles=["merchant"],
    )
    assert d.status_code == 200, d.json
    assert payable_of() == -owed
    settle(owed // 2, "o-small")
    clock.advance(86400)
    assert run()["paid"] == 0 and payable_of() == owed // 2 - owed  # still negative: carried
    settle(owed, "o-big")
    clock.advance(86400)
    assert run()["paid"] == 1
    assert listed(api)["items"][0]["amount_fen"] == owed // 2 and payable_of() == 0
    assert schedules.run("reconcile_ledger", clock.now())["drift"] == 0


def test_without_an_account_nothing_is_paid_until_one_is_set(api: Api) -> None:
    settle(1000, "o-1")
    clock.advance(int(TO_CUTOFF.total_seconds()))
    assert run()["paid"] == 0
    set_account(api, GOOD)
    clock.advance(86400)
    assert run()["paid"] == 1 and payable_of() == 0


def test_reconciliation_finds_a_payout_record_the_ledger_does_not_explain(api: Api) -> None:
    set_account(api, GOOD)
    settle(1000, "o-1")
    clock.advance(int(TO_CUTOFF.total_seconds()))
    run()
    [payout] = list(Payout.query(MERCHANT))
    payout.update(actions=[Payout.amount_fen.set(900)])
    result = reconcile.check(reconcile.touched_since(clock.now() - timedelta(days=1), clock.now()))
    assert [(d["merchant_id"], d["paid_out_ledger"], d["paid_out_records"]) for d in result["payout_drift"]] == [
        (MERCHANT, 1000, 900)
    ]
    assert result["balance_drift"] == []


def test_merchants_see_only_their_own_payouts(api: Api) -> None:
    set_account(api, GOOD)
    settle(1000, "o-1")
    clock.advance(int(TO_CUTOFF.total_seconds()))
    run()
    assert listed(api, "m-other")["items"] == []
    assert api.get("/v1/merchant/payouts", as_="u-1").status_code == 403
