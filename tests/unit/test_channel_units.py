"""Channel pieces that are pure functions: Alipay amounts, sandbox card outcomes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.channels import alipay
from chalicelib.channels.base import FAILED, PENDING, SUCCEEDED, PaymentRef
from chalicelib.channels.card import SandboxGateway


@given(st.integers(min_value=0, max_value=10**12))
def test_alipay_yuan_amounts_round_trip_to_the_fen(amount: int) -> None:
    assert alipay.fen(alipay.yuan(amount)) == amount


@pytest.mark.parametrize("text", ["1.001", "-1.00", "NaN", "Infinity", "1e400", "abc", ""])
def test_alipay_amounts_that_are_not_whole_fen_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        alipay.fen(text)


@given(st.dictionaries(st.text("abcdefghij_", min_size=1, max_size=8), st.text("xyz=", max_size=5), max_size=8))
def test_alipay_request_sign_content_ignores_order_and_leaves_out_sign_and_empty_values(
    params: dict[str, str],
) -> None:
    shuffled = dict(reversed(list(params.items())))
    content = alipay.request_sign_content({**params, "sign": "x"})
    assert content == alipay.request_sign_content(shuffled)
    pairs = content.split("&") if content else []
    assert pairs == [f"{k}={params[k]}" for k in sorted(params) if params[k]]


@given(st.dictionaries(st.text("abcdefghij_", min_size=1, max_size=8), st.text("xyz=", max_size=5), max_size=8))
def test_alipay_notification_check_content_keeps_empty_values_and_leaves_out_sign_and_sign_type(
    params: dict[str, str],
) -> None:
    content = alipay.notification_check_content({**params, "sign": "x", "sign_type": "RSA2"})
    pairs = content.split("&") if content else []
    assert pairs == [f"{k}={params[k]}" for k in sorted(params)]


def ref(last4: str) -> PaymentRef:
    return PaymentRef("pa1", "ord_1", "u1", 100, "CNY", datetime(2026, 1, 1, tzinfo=UTC), f"sbx_abc_{last4}")


@pytest.mark.parametrize(
    ("last4", "charge", "query"),
    [
        ("3446", SUCCEEDED, SUCCEEDED),
        ("0002", FAILED, FAILED),
        ("0003", PENDING, SUCCEEDED),
        ("0004", PENDING, FAILED),
        ("0005", FAILED, FAILED),
    ],
)
def test_sandbox_gateway_outcomes_follow_the_last_four_digits(last4: str, charge: str, query: str) -> None:
    gateway = SandboxGateway()
    assert gateway.charge(ref(last4)).status == charge
    assert gateway.query(ref(last4)).status == query
    assert gateway.charge(ref(last4)) == gateway.charge(ref(last4))  # deterministic
