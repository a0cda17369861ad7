"""The channels' side of the wire, written from their documentation (not from our code):
signed Alipay, WeChat Pay and card gateway notifications, and orders awaiting payment."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.parse
import uuid
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from chalicelib.clock import clock, iso
from chalicelib.config import settings
from chalicelib.models.users import User
from tests.support import channel_keys


def rsa_sign(key: rsa.RSAPrivateKey, message: bytes) -> str:
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def rsa_verify(key: rsa.RSAPublicKey, message: bytes, signature: str) -> None:
    key.verify(base64.b64decode(signature), message, padding.PKCS1v15(), hashes.SHA256())


# --- Alipay -----------------------------------------------------------------------------


def alipay_params(out_trade_no: str, amount_fen: int, **overrides: str) -> dict[str, str]:
    params = {
        "notify_time": "2026-11-25 16:00:05",
        "notify_type": "trade_status_sync",
        "notify_id": uuid.uuid4().hex,
        "app_id": settings().channels.alipay_app_id or "",
        "seller_id": settings().channels.alipay_seller_id or "",
        "charset": "utf-8",
        "version": "1.0",
        "trade_no": "2026112522001" + uuid.uuid4().hex[:12],
        "out_trade_no": out_trade_no,
        "total_amount": f"{amount_fen / 100:.2f}",
        "receipt_amount": f"{amount_fen / 100:.2f}",
        "trade_status": "TRADE_SUCCESS",
        "subject": "PayLater 订单",
        "buyer_logon_id": "",  # sent empty, and signed empty: the check string keeps it
        "sign_type": "RSA2",
    }
    params.update(overrides)
    return params


def alipay_sign(params: dict[str, str], key: rsa.RSAPrivateKey | None = None) -> dict[str, str]:
    # Alipay's check string: every parameter but sign and sign_type, empty values included.
    content = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k not in ("sign", "sign_type"))
    signed = dict(params)
    signed["sign"] = rsa_sign(key or channel_keys.ALIPAY_PLATFORM, content.encode("utf-8"))
    if params.get("trade_status") in ("TRADE_SUCCESS", "TRADE_FINISHED"):
        record_paid(params.get("out_trade_no", ""), params.get("total_amount", ""), params.get("trade_no", ""))
    return signed


def record_paid(out_trade_no: str, amount: str | int, trade_no: str) -> None:
    """What a test's notification claims is the simulated channel's record too (a refund
    or a query then finds the payment)."""
    from chalicelib.channels.simulator import SIMULATOR

    try:
        fen = amount if isinstance(amount, int) else round(float(amount) * 100)
    except ValueError:
        return
    SIMULATOR.record_paid(out_trade_no, fen, trade_no)


def form(params: dict[str, str]) -> str:
    return urllib.parse.urlencode(params)


# --- WeChat Pay -------------------------------------------------------------------------


def wechat_transaction(out_trade_no: str, amount_fen: int, state: str = "SUCCESS", **amount: Any) -> dict[str, Any]:
    c = settings().channels
    return {
        "mchid": c.wechatpay_mch_id,
        "appid": c.wechatpay_app_id,
        "out_trade_no": out_trade_no,
        "transaction_id": "4200002026" + uuid.uuid4().hex[:18],
        "trade_type": "APP",
        "trade_state": state,
        "success_time": "2026-11-25T16:00:05+08:00",
        "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
        "amount": {
            "total": amount_fen,
            "payer_total": amount_fen,
            "currency": "CNY",
            "payer_currency": "CNY",
            **amount,
        },
    }


def wechat_notification(
    transaction: dict[str, Any],
    *,
    event_id: str | None = None,
    at: datetime | None = None,
    key: rsa.RSAPrivateKey | None = None,
    api_v3_key: str | None = None,
    serial: str | None = None,
    event_type: str = "TRANSACTION.SUCCESS",
) -> tuple[bytes, dict[str, str]]:
    nonce = uuid.uuid4().hex[:12]
    aad = "transaction"
    if event_type == "TRANSACTION.SUCCESS" and transaction.get("trade_state") == "SUCCESS":
        total = (transaction.get("amount") or {}).get("total")
        if isinstance(total, int):
            record_paid(str(transaction.get("out_trade_no")), total, str(transaction.get("transaction_id")))
    ciphertext = AESGCM((api_v3_key or channel_keys.WECHAT_API_V3_KEY).encode()).encrypt(
        nonce.encode(), json.dumps(transaction).encode(), aad.encode()
    )
    body = json.dumps(
        {
            "id": event_id or str(uuid.uuid4()),
            "create_time": "2026-11-25T16:00:05+08:00",
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": "支付成功",
            "resource": {
                "original_type": "transaction",
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": base64.b64encode(ciphertext).decode(),
                "associated_data": aad,
                "nonce": nonce,
            },
        }
    ).encode()
    ts = str(int((at or clock.now()).timestamp()))
    header_nonce = uuid.uuid4().hex
    message = f"{ts}\n{header_nonce}\n".encode() + body + b"\n"
    headers = {
        "Content-Type": "application/json",
        "Wechatpay-Timestamp": ts,
        "Wechatpay-Nonce": header_nonce,
        "Wechatpay-Signature": rsa_sign(key or channel_keys.WECHAT_PLATFORM, message),
        "Wechatpay-Serial": serial or settings().channels.wechatpay_platform_serials[0],
        "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
    }
    return body, headers


# --- card gateway -----------------------------------------------------------------------


def card_notification(
    merchant_ref: str,
    amount_fen: int,
    *,
    kind: str = "charge.succeeded",
    event_id: str | None = None,
    sent_at: datetime | None = None,
    key: str | None = None,
    **extra: Any,
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {
            "event_id": event_id or f"evt_{uuid.uuid4().hex}",
            "type": kind,
            "merchant_ref": merchant_ref,
            "txn_id": f"txn_{uuid.uuid4().hex[:16]}",
            "amount_fen": amount_fen,
            "currency": "CNY",
            "sent_at": iso(sent_at or clock.now()),
            **extra,
        }
    ).encode()
    mac = hmac.new((key or channel_keys.CARD_HMAC_KEY).encode(), body, hashlib.sha256).hexdigest()
    return body, {"Content-Type": "application/json", "X-Gateway-Signature": mac}


# --- orders awaiting payment, through the real checkout ---------------------------------


def awaiting_payment_order(api: Any, user_id: str, total_fen: int, method: str = "alipay") -> str:
    """Check out one item priced `total_fen` with `method` and confirm it: awaiting_payment."""
    from tests.support.shopping import PASSWORD, checkout, confirm, create_product, sku_ids

    if not _has_password(user_id):
        assert api.put("/v1/me/payment-password", {"password": PASSWORD}, as_=user_id).status_code == 200
    product = create_product(api, skus=[{"attributes": {"规格": "标准"}, "price_fen": total_fen, "stock": 50}])
    placed = checkout(api, user_id, [(sku_ids(product)[0], 1)], method=method)
    assert placed.status_code == 201, placed.json
    order = placed.json["orders"][0]
    confirmed = confirm(api, user_id, order)
    assert confirmed.status_code == 200, confirmed.json
    assert confirmed.json["status"] == "awaiting_payment"
    assert confirmed.json["total_fen"] == total_fen
    return str(order["order_id"])


def _has_password(user_id: str) -> bool:
    try:
        return bool(User.get(user_id).password_hash)
    except User.DoesNotExist:
        return False


def luhn_card(prefix: str, last4: str) -> str:
    """A Luhn-valid 19-digit card number starting with `prefix` whose last four are `last4`
    (a check digit chosen in the middle keeps the last four as given)."""
    body = prefix + "0" * (19 - len(prefix) - 4 - 1)
    for d in range(10):
        number = f"{body}{d}{last4}"
        total = 0
        for i, ch in enumerate(reversed(number)):
            n = int(ch)
            if i % 2 == 1:
                n *= 2
                n -= 9 if n > 9 else 0
            total += n
        if total % 10 == 0:
            return number
    raise AssertionError("no Luhn digit")
