"""The ledger: balanced events, posted once, balances bounded, derivable from entries."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from chalicelib import errors, ledger
from chalicelib.clock import clock
from chalicelib.db import Tx
from chalicelib.ledger import CREDIT, PLATFORM, Leg, user_account
from chalicelib.models.ledger import Entry


def _post(event_id: str, legs: list[Leg]) -> None:
    tx = Tx()
    ledger.post(tx, event_id=event_id, kind="test", at=clock.now(), legs=legs)
    tx.commit()


def test_unbalanced_events_are_refused() -> None:
    with pytest.raises(ValueError):
        _post("e1", [Leg(user_account("u"), ledger.CASH, 5), Leg(PLATFORM, "x", -4)])


def test_float_amounts_are_refused() -> None:
    with pytest.raises(TypeError):
        _post("e1", [Leg(user_account("u"), ledger.CASH, 5.0), Leg(PLATFORM, "x", -5.0)])  # type: ignore[arg-type]


def test_an_event_posts_once() -> None:
    legs = [Leg(user_account("u"), ledger.CASH, 5), Leg(PLATFORM, "x", -5)]
    _post("e1", legs)
    with pytest.raises(errors.DomainError) as err:
        _post("e1", legs)
    assert err.value.code == "event_already_posted"
    assert ledger.balances(user_account("u"))[ledger.CASH].balance == 5


def test_cash_cannot_go_negative() -> None:
    with pytest.raises(errors.DomainError) as err:
        _post("e1", [Leg(user_account("u"), ledger.CASH, -1), Leg(PLATFORM, "x", 1)])
    assert isinstance(err.value, errors.Conflict)  # 409 at the HTTP edge
    assert list(Entry.query(user_account("u"))) == []


def test_credit_cannot_exceed_the_limit() -> None:
    tx = Tx()
    ledger.open_credit(tx, "u", 1000, clock.now())
    tx.commit()
    _post("r1", [Leg(user_account("u"), CREDIT, 600), Leg(PLATFORM, "credit_extended", -600)])
    with pytest.raises(errors.DomainError):
        _post("r2", [Leg(user_account("u"), CREDIT, 401), Leg(PLATFORM, "credit_extended", -401)])
    _post("r3", [Leg(user_account("u"), CREDIT, 400), Leg(PLATFORM, "credit_extended", -400)])
    credit = ledger.balances(user_account("u"))[CREDIT]
    assert (credit.balance, credit.headroom, credit.limit) == (1000, 0, 1000)


@hsettings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(min_value=-300, max_value=300), min_size=1, max_size=12))
def test_stored_balance_equals_the_sum_of_entries(moves: list[int]) -> None:
    account = user_account(f"p{abs(hash(tuple(moves))) % 10**9}")
    expected = 0
    for i, amount in enumerate(moves):
        try:
            _post(f"{account}:{i}", [Leg(account, ledger.CASH, amount), Leg(PLATFORM, "x", -amount)])
            expected += amount
        except errors.DomainError:
            assert expected + amount < 0
    stored = ledger.balances(account).get(ledger.CASH)
    derived = sum(int(e.amount) for e in Entry.query(account) if e.book == ledger.CASH)
    assert (int(stored.balance) if stored else 0) == derived == expected >= 0
