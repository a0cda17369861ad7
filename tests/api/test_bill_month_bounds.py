"""A bill month at the calendar's edges is a 422, never a 500 (an independent tester's
findings on the third release)."""

from __future__ import annotations

import pytest

from tests.conftest import Api, new_key


@pytest.mark.parametrize("month", ["0000-01", "0001-01", "9999-12"])
def test_a_month_outside_the_calendar_is_invalid_month(api: Api, activated_user: str, month: str) -> None:
    shown = api.get(f"/v1/bnpl/bills/{month}", as_=activated_user)
    assert shown.status_code == 422 and shown.json["code"] == "invalid_month", shown.json
    paid = api.post(f"/v1/bnpl/bills/{month}/payments", {"channel": "card"}, as_=activated_user, idem=new_key())
    assert paid.status_code == 422 and paid.json["code"] == "invalid_month", paid.json
