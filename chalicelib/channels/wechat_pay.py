"""WeChat Pay (微信支付) API v3: App payment, signed notifications, encrypted resources.

A notification is accepted only when `Wechatpay-Signature` (SHA256withRSA,
`Wechatpay-Signature-Type: WECHATPAY2-SHA256-RSA2048`) verifies over
`timestamp\\nnonce\\nbody\\n` with the platform key of the `Wechatpay-Serial` it names
(one of the configured serials: two while WeChat Pay rotates its key), the
timestamp is fresh (`rules.channel_notify_max_age_seconds`), and the `resource` decrypts
(AEAD_AES_256_GCM, the API v3 key, its nonce and associated data). We answer 204 with no
body, or a 4xx JSON `{"code", "message"}` (WeChat Pay then retries: 15 times over 24 h).
Our own calls carry a `WECHATPAY2-SHA256-RSA2048` Authorization signed with the merchant
key, and its answers are verified like notifications.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..clock import CHINA
from ..config import ConfigError, settings
from . import base as ch
from . import http, keys
from .card import notify_url
from .simulator import WECHATPAY_API as SANDBOX_API

SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
TRADE_STATE = {
    "SUCCESS": ch.SUCCEEDED,
    "CLOSED": ch.FAILED,
    "REVOKED": ch.FAILED,
    "PAYERROR": ch.FAILED,
    "NOTPAY": ch.PENDING,
    "USERPAYING": ch.PENDING,
}

# A prepay of an out_trade_no WeChat Pay will not open again: paid there, or closed there.
PREPAY_REFUSED = {"ORDERPAID": ch.SUCCEEDED, "ORDER_CLOSED": ch.FAILED}


def _setting(name: str, value: str | None) -> str:
    if not value:
        raise ConfigError(f"missing setting {name}")
    return value


def _ids() -> tuple[str, str]:
    c = settings().channels
    return _setting("WECHATPAY_APP_ID", c.wechatpay_app_id), _setting("WECHATPAY_MCH_ID", c.wechatpay_mch_id)


def _nonce() -> str:
    """A fresh random `nonce_str` per request (the protocol's replay guard): never derived
    from the request, so two identical calls in one second differ."""
    return secrets.token_hex(16)


def signed_message(timestamp: str, nonce: str, body: bytes) -> bytes:
    return timestamp.encode() + b"\n" + nonce.encode() + b"\n" + body + b"\n"


def decrypt_resource(resource: Mapping[str, Any]) -> dict[str, Any]:
    """Open an AEAD_AES_256_GCM resource with the API v3 key."""
    if resource.get("algorithm") != "AEAD_AES_256_GCM":
        raise ch.NotificationRejected("malformed")
    try:
        key = keys.secret(keys.WECHATPAY_API_V3_KEY).encode()
        plain = AESGCM(key).decrypt(
            str(resource["nonce"]).encode(),
            base64.b64decode(str(resource["ciphertext"]), validate=True),
            str(resource.get("associated_data") or "").encode(),
        )
        doc: dict[str, Any] = json.loads(plain.decode("utf-8"))
    except InvalidTag as exc:
        raise ch.NotificationRejected("bad_ciphertext") from exc
    except (KeyError, ValueError, TypeError) as exc:
        raise ch.NotificationRejected("malformed") from exc
    return doc


def prepay_body(ref: ch.PaymentRef) -> dict[str, Any]:
    """The App order (`POST /v3/pay/transactions/app`), bounded by the order's deadline."""
    app_id, mch_id = _ids()
    body: dict[str, Any] = {
        "appid": app_id,
        "mchid": mch_id,
        "description": ref.description,
        "out_trade_no": ref.attempt_id,
        "notify_url": notify_url("wechatpay"),
        "amount": {"total": ref.amount_fen, "currency": ref.currency},
    }
    if ref.expires_at is not None:
        body["time_expire"] = ref.expires_at.astimezone(CHINA).isoformat(timespec="seconds")
    return body


class WechatPayChannel:
    name = ch.WECHAT_PAY

    def _authorization(self, method: str, path: str, body: str, timestamp: int, nonce: str) -> str:
        _, mch_id = _ids()
        serial = _setting("WECHATPAY_MCH_SERIAL", settings().channels.wechatpay_mch_serial)
        message = f"{method}\n{path}\n{timestamp}\n{nonce}\n{body}\n".encode()
        signature = keys.rsa_sign(keys.secret(keys.WECHATPAY_MCH_PRIVATE_KEY), message)
        return (
            f'WECHATPAY2-SHA256-RSA2048 mchid="{mch_id}",nonce_str="{nonce}",'
            f'signature="{signature}",timestamp="{timestamp}",serial_no="{serial}"'
        )

    def _call(self, method: str, path: str, payload: dict[str, Any] | None) -> dict[str, Any] | None:
        """Call the v3 API; None when it did not answer or the answer's signature fails."""
        from ..clock import clock

        base = settings().channels.wechatpay_api_base or (SANDBOX_API if settings().channel_sandbox else None)
        base = _setting("WECHATPAY_API_BASE", base).rstrip("/")
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")) if payload is not None else ""
        ts = int(clock.now().timestamp())
        nonce = _nonce()
        headers = {
            "Authorization": self._authorization(method, path, body, ts, nonce),
            "Accept": "application/json",
            "Content-Type": "application/json",
        }
        try:
            answer = http.request(
                method, base + path, body=body.encode() if payload is not None else None, headers=headers
            )
        except http.ChannelUnavailable:
            return None
        message = signed_message(
            answer.headers.get("wechatpay-timestamp", ""), answer.headers.get("wechatpay-nonce", ""), answer.body
        )
        signature = answer.headers.get("wechatpay-signature", "")
        platform_key = keys.wechatpay_platform_key(answer.headers.get("wechatpay-serial", ""))
        if platform_key is None or not keys.rsa_verify(platform_key, message, signature):
            return None
        if not answer.body:
            return {"_status": answer.status}
        doc: dict[str, Any] = answer.json()
        doc["_status"] = answer.status
        return doc

    def start_payment(self, ref: ch.PaymentRef) -> dict[str, Any]:
        app_id, mch_id = _ids()
        doc = self._call("POST", "/v3/pay/transactions/app", prepay_body(ref))
        if doc is None:
            raise http.ChannelUnavailable("WeChat Pay did not answer the prepay request")
        if doc.get("code") in PREPAY_REFUSED:
            raise ch.TradeNotOpen(PREPAY_REFUSED[str(doc["code"])])
        if not doc.get("prepay_id"):
            raise http.ChannelUnavailable(f"WeChat Pay gave no prepay id ({doc.get('_status')} {doc.get('code')})")
        prepay_id = str(doc["prepay_id"])
        timestamp = str(int(ref.created_at.timestamp()))
        nonce = _nonce()
        pay_sign = keys.rsa_sign(
            keys.secret(keys.WECHATPAY_MCH_PRIVATE_KEY), f"{app_id}\n{timestamp}\n{nonce}\n{prepay_id}\n".encode()
        )
        return {
            "channel": ch.WECHAT_PAY,
            "out_trade_no": ref.attempt_id,
            "appid": app_id,
            "partnerid": mch_id,
            "prepayid": prepay_id,
            "package": "Sign=WXPay",
            "noncestr": nonce,
            "timestamp": timestamp,
            "sign": pay_sign,
        }

    def charge(self, ref: ch.PaymentRef) -> ch.ChargeResult:
        raise ch.UnsupportedOperation("WeChat Pay payments are made by the user in WeChat")

    def query(self, ref: ch.PaymentRef) -> ch.ChargeResult:
        _, mch_id = _ids()
        doc = self._call("GET", f"/v3/pay/transactions/out-trade-no/{ref.attempt_id}?mchid={mch_id}", None)
        if doc is None or doc.get("_status") != 200:
            return ch.ChargeResult(ch.PENDING)
        amount = doc.get("amount") or {}
        return ch.ChargeResult(
            TRADE_STATE.get(str(doc.get("trade_state")), ch.PENDING),
            doc.get("transaction_id"),
            amount_fen=amount.get("total"),
            currency=amount.get("currency"),
        )

    def close(self, ref: ch.PaymentRef) -> str:
        _, mch_id = _ids()
        doc = self._call("POST", f"/v3/pay/transactions/out-trade-no/{ref.attempt_id}/close", {"mchid": mch_id})
        if doc is None:
            return ch.PENDING
        if doc.get("_status") == 204 or doc.get("code") == "ORDER_NOT_EXIST":
            return ch.SUCCEEDED  # closed, or never created (no prepay: nothing can pay it)
        if doc.get("code") == "ORDERPAID":
            return ch.FAILED  # paid: its notification settles it
        return ch.PENDING

    def refund(self, ref: ch.PaymentRef, *, refund_id: str, amount_fen: int, channel_txn_id: str) -> ch.RefundResult:
        doc = self._call(
            "POST",
            "/v3/refund/domestic/refunds",
            {
                "out_trade_no": ref.attempt_id,
                "out_refund_no": refund_id,
                "notify_url": notify_url("wechatpay"),
                "amount": {"refund": amount_fen, "total": ref.amount_fen, "currency": ref.currency},
            },
        )
        if doc is None:
            return ch.RefundResult(ch.PENDING)
        status = str(doc.get("status"))
        if status == "SUCCESS":
            return ch.RefundResult(ch.SUCCEEDED, doc.get("refund_id"))
        if status == "PROCESSING" or doc.get("_status") != 200:
            return ch.RefundResult(ch.PENDING, doc.get("refund_id"))
        return ch.RefundResult(ch.FAILED, doc.get("refund_id"), failure_code=str(doc.get("code") or status))

    def parse_notification(self, headers: Mapping[str, str], body: bytes, now: datetime) -> ch.ChannelEvent:
        cfg = settings()
        timestamp = headers.get("wechatpay-timestamp", "")
        nonce = headers.get("wechatpay-nonce", "")
        signature = headers.get("wechatpay-signature", "")
        serial = headers.get("wechatpay-serial", "")
        if not (timestamp and nonce and signature) or not timestamp.isdigit():
            raise ch.NotificationRejected("bad_signature")
        if headers.get("wechatpay-signature-type", SIGNATURE_TYPE) != SIGNATURE_TYPE:
            raise ch.NotificationRejected("bad_signature")
        platform_key = keys.wechatpay_platform_key(serial)
        if platform_key is None:
            raise ch.NotificationRejected("unknown_serial")
        if abs(now.timestamp() - int(timestamp)) > cfg.rules.channel_notify_max_age_seconds:
            raise ch.NotificationRejected("stale")
        message = signed_message(timestamp, nonce, body)
        if not keys.rsa_verify(platform_key, message, signature):
            raise ch.NotificationRejected("bad_signature")
        try:
            doc = json.loads(body.decode("utf-8"))
            event_id, resource = str(doc["id"]), doc["resource"]
            event_type = str(doc.get("event_type", ""))
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
            raise ch.NotificationRejected("malformed") from exc
        txn = decrypt_resource(resource)
        app_id, mch_id = _ids()
        if not event_type.startswith("TRANSACTION."):
            # Refund and other events: acknowledged, no payment effect here.
            return ch.ChannelEvent(
                ch.WECHAT_PAY, event_id, str(txn.get("out_trade_no", "")), None, None, None, ch.PENDING
            )
        if txn.get("mchid") != mch_id or txn.get("appid") != app_id:
            raise ch.NotificationRejected("not_ours")
        try:
            amount = txn["amount"]
            total, currency = amount["total"], str(amount["currency"])
            attempt_id = str(txn["out_trade_no"])
        except (KeyError, TypeError) as exc:
            raise ch.NotificationRejected("malformed") from exc
        if type(total) is not int:
            raise ch.NotificationRejected("malformed")
        status = TRADE_STATE.get(str(txn.get("trade_state")), ch.PENDING)
        return ch.ChannelEvent(
            channel=ch.WECHAT_PAY,
            event_id=event_id,
            attempt_id=attempt_id,
            channel_txn_id=txn.get("transaction_id"),
            amount_fen=total,
            currency=currency,
            status=status,
            failure_code=str(txn.get("trade_state")).lower() if status == ch.FAILED else None,
        )

    def reply(self, accepted: bool, reason: str = "") -> ch.NotifyReply:
        if accepted:
            return ch.NotifyReply(204, "")
        status = 401 if reason in ch.SIGNATURE_REASONS else 400
        return ch.NotifyReply(status, {"code": "FAIL", "message": reason or "rejected"})
