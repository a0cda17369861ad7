"""Our channel adapters against the simulated channels' servers (`channels/simulator.py`),
over their real wire protocols: WeChat Pay's request nonces, Alipay's refund proof."""

from __future__ import annotations

import uuid

import pytest

from chalicelib.channels import base as ch
from chalicelib.channels.alipay import AlipayChannel
from chalicelib.channels.simulator import SIMULATOR
from chalicelib.channels.wechat_pay import WechatPayChannel
from chalicelib.clock import clock


def ref(amount_fen: int = 2_500) -> ch.PaymentRef:
    no = "pa" + uuid.uuid4().hex[:30]
    return ch.PaymentRef(no, f"o-{no}", "u-proto", amount_fen, "CNY", clock.now())


# --- WeChat Pay: nonce_str ---------------------------------------------------------------------


def test_two_identical_wechat_calls_in_one_second_carry_different_nonces_and_both_verify() -> None:
    """The clock is frozen: same path, body and timestamp. WeChat Pay refuses a nonce it has
    seen (a replay), so a nonce derived from the request made the second call fail."""
    wechat, trade = WechatPayChannel(), ref()
    before = set(SIMULATOR.nonces)
    first = wechat.start_payment(trade)
    second = wechat.start_payment(trade)  # the same prepay, again, in the same second
    assert len(SIMULATOR.nonces - before) == 2
    assert first["noncestr"] != second["noncestr"]  # the app's launch nonce too
    SIMULATOR.pay(trade.attempt_id, trade.amount_fen)
    answers = [wechat.query(trade), wechat.query(trade)]
    assert [a.status for a in answers] == [ch.SUCCEEDED, ch.SUCCEEDED]


# --- Alipay: a refund is proved by fund_change=Y or by the refund query --------------------------


@pytest.fixture
def paid_alipay() -> ch.PaymentRef:
    trade = ref()
    assert SIMULATOR.pay(trade.attempt_id, trade.amount_fen)
    return trade


def test_an_alipay_refund_answered_fund_change_y_is_done(paid_alipay: ch.PaymentRef) -> None:
    result = AlipayChannel().refund(paid_alipay, refund_id="rf-1", amount_fen=1_000, channel_txn_id="")
    assert result.status == ch.SUCCEEDED


def test_an_alipay_refund_whose_answer_was_lost_is_settled_from_the_query(paid_alipay: ch.PaymentRef) -> None:
    """The first answer is lost (the refund was done); sent again, Alipay answers
    fund_change=N (no money moved this time). The refund query proves it was done."""
    alipay = AlipayChannel()
    SIMULATOR.lose_answer(paid_alipay.attempt_id, "refund")
    assert alipay.refund(paid_alipay, refund_id="rf-2", amount_fen=1_000, channel_txn_id="").status == ch.PENDING
    again = alipay.refund(paid_alipay, refund_id="rf-2", amount_fen=1_000, channel_txn_id="")
    assert again.status == ch.SUCCEEDED
    assert SIMULATOR.trades[paid_alipay.attempt_id].refunds == {"rf-2": 1_000}  # given back once


def test_a_lost_refund_query_answer_sends_nothing(paid_alipay: ch.PaymentRef) -> None:
    SIMULATOR.lose_answer(paid_alipay.attempt_id, "refund_query")
    assert AlipayChannel().refund(paid_alipay, refund_id="rf-5", amount_fen=500, channel_txn_id="").status == (
        ch.PENDING
    )
    assert SIMULATOR.trades[paid_alipay.attempt_id].refunds == {}  # not sent without knowing


# --- closing a trade ------------------------------------------------------------------------------


def test_closing_a_trade_never_created_at_the_channel_is_a_confirmed_close() -> None:
    """A WeChat Pay trade whose prepay never happened (ORDER_NOT_EXIST) and an Alipay trade
    the user never opened (ACQ.TRADE_NOT_EXIST) cannot be paid any more once closed."""
    wechat_trade, alipay_trade = ref(), ref()
    assert WechatPayChannel().close(wechat_trade) == ch.SUCCEEDED
    assert AlipayChannel().close(alipay_trade) == ch.SUCCEEDED
    assert SIMULATOR.pay(alipay_trade.attempt_id, alipay_trade.amount_fen) is None


def test_closing_a_paid_trade_is_refused_by_both_channels() -> None:
    for adapter in (WechatPayChannel(), AlipayChannel()):
        trade = ref()
        if isinstance(adapter, WechatPayChannel):
            adapter.start_payment(trade)
        assert SIMULATOR.pay(trade.attempt_id, trade.amount_fen)
        assert adapter.close(trade) == ch.FAILED
        assert adapter.query(trade).status == ch.SUCCEEDED
