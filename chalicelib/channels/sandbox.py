"""The sandbox channels' side (local stage only): signed notifications as Alipay, WeChat
Pay and the card gateway would send them, so the local stack can show a payment settling.

The trade's state is the simulated channel's (`simulator.py`): a closed trade is never
notified as paid. Signs with the sandbox platform keys (`keys.ALIPAY_SANDBOX_PLATFORM_PRIVATE_KEY`, ...),
which exist only where `CHANNEL_SANDBOX` is on; verification is the production code path.
"""

from __future__ import annotations

import base64
import json
import os
import urllib.parse
from datetime import datetime

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..clock import CHINA, iso
from ..config import ConfigError, settings
from ..money import yuan
from . import card, keys
from .alipay import notification_check_content, seller_id
from .base import ALIPAY, CARD, SUCCEEDED, WECHAT_PAY
from .simulator import SIMULATOR
from .wechat_pay import SIGNATURE_TYPE, signed_message


class NoSuchNotification(ValueError):
    """The real channel sends no notification for that outcome."""


def notification(
    channel: str, attempt_id: str, amount_fen: int, currency: str, outcome: str, now: datetime
) -> tuple[str, bytes, dict[str, str]]:
    """(notify path, body, headers) of a signed sandbox notification about an attempt."""
    if not settings().channel_sandbox:
        raise ConfigError("sandbox notifications exist only on sandbox stages")
    event = os.urandom(12).hex()
    ok = outcome == SUCCEEDED
    trade_no = f"sbx{event}"
    if channel in (ALIPAY, WECHAT_PAY):
        # The channel's own record decides: a closed trade cannot be paid, a paid one not closed.
        if ok:
            trade_no = SIMULATOR.pay(attempt_id, amount_fen) or ""
            if not trade_no:
                raise NoSuchNotification("the trade is closed at the channel: it can no longer be paid")
        elif channel == ALIPAY and not SIMULATOR.expire(attempt_id, amount_fen):
            raise NoSuchNotification("the trade is paid at the channel: it does not close")
    if channel == ALIPAY:
        return _alipay(attempt_id, amount_fen, ok, trade_no, event, now)
    if channel == WECHAT_PAY:
        return _wechat_pay(attempt_id, amount_fen, currency, ok, trade_no, event, now)
    if channel == CARD:
        return _card(attempt_id, amount_fen, currency, ok, event, now)
    raise ValueError(f"{channel} sends no notifications")


def _alipay(
    attempt_id: str, amount_fen: int, ok: bool, trade_no: str, event: str, now: datetime
) -> tuple[str, bytes, dict[str, str]]:
    params = {
        "notify_time": now.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S"),
        "notify_type": "trade_status_sync",
        "notify_id": event,
        "app_id": settings().channels.alipay_app_id or "",
        "seller_id": seller_id(),
        "charset": "utf-8",
        "version": "1.0",
        "trade_no": trade_no,
        "out_trade_no": attempt_id,
        "total_amount": yuan(amount_fen),
        "trade_status": "TRADE_SUCCESS" if ok else "TRADE_CLOSED",
    }
    content = notification_check_content(params).encode()
    params["sign_type"] = "RSA2"
    params["sign"] = keys.rsa_sign(keys.secret(keys.ALIPAY_SANDBOX_PLATFORM_PRIVATE_KEY), content)
    body = urllib.parse.urlencode(params).encode()
    return "alipay", body, {"content-type": "application/x-www-form-urlencoded"}


def _wechat_pay(
    attempt_id: str, amount_fen: int, currency: str, ok: bool, trade_no: str, event: str, now: datetime
) -> tuple[str, bytes, dict[str, str]]:
    if not ok:
        # WeChat Pay notifies successful payments only: an unpaid trade just closes.
        raise NoSuchNotification("WeChat Pay sends no notification for an unpaid trade; it closes")
    c = settings().channels
    beijing = now.astimezone(CHINA).isoformat(timespec="seconds")
    txn = {
        "mchid": c.wechatpay_mch_id,
        "appid": c.wechatpay_app_id,
        "out_trade_no": attempt_id,
        "transaction_id": trade_no,
        "trade_type": "APP",
        "trade_state": "SUCCESS",
        "trade_state_desc": "支付成功",
        "bank_type": "OTHERS",
        "success_time": beijing,
        "payer": {"openid": f"sbx_openid_{event[:8]}"},
        "amount": {
            "total": amount_fen,
            "payer_total": amount_fen,
            "currency": currency,
            "payer_currency": currency,
        },
    }
    nonce = os.urandom(6).hex()
    sealed = AESGCM(keys.secret(keys.WECHATPAY_API_V3_KEY).encode()).encrypt(
        nonce.encode(), json.dumps(txn, ensure_ascii=False).encode(), b"transaction"
    )
    body = json.dumps(
        {
            "id": event,
            "create_time": beijing,
            "event_type": "TRANSACTION.SUCCESS",
            "resource_type": "encrypt-resource",
            "summary": "支付成功",
            "resource": {
                "original_type": "transaction",
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": base64.b64encode(sealed).decode(),
                "associated_data": "transaction",
                "nonce": nonce,
            },
        },
        ensure_ascii=False,
    ).encode()
    serial = c.wechatpay_platform_serials[0] if c.wechatpay_platform_serials else "SANDBOX"
    ts, header_nonce = str(int(now.timestamp())), os.urandom(16).hex()
    signature = keys.rsa_sign(keys.wechatpay_sandbox_signing_key(serial), signed_message(ts, header_nonce, body))
    headers = {
        "content-type": "application/json",
        "wechatpay-timestamp": ts,
        "wechatpay-nonce": header_nonce,
        "wechatpay-signature": signature,
        "wechatpay-serial": serial,
        "wechatpay-signature-type": SIGNATURE_TYPE,
    }
    return "wechatpay", body, headers


def _card(
    attempt_id: str, amount_fen: int, currency: str, ok: bool, event: str, now: datetime
) -> tuple[str, bytes, dict[str, str]]:
    doc = {
        "event_id": f"evt_{event}",
        "type": "charge.succeeded" if ok else "charge.failed",
        "merchant_ref": attempt_id,
        "txn_id": f"sbx_txn_{event}",
        "amount_fen": amount_fen,
        "currency": currency,
        "sent_at": iso(now),
    }
    if not ok:
        doc["failure_code"] = card.DECLINED
    body = json.dumps(doc).encode()
    return "card", body, {"content-type": "application/json", card.SIGNATURE_HEADER: card.sign(body)}
