"""The bank-card gateway: charges a stored card token, tells us outcomes by HMAC-signed
notification.

Sandbox gateway (local stage and tests): deterministic outcomes keyed on the token's
last four digits (`sbx_<hash>_<last4>`, see `card_vault`), so every path can be shown:

| last4 ends | charge                    | later `query` / notification |
|------------|---------------------------|------------------------------|
| `0002`     | declined `card_declined`  | declined                     |
| `0003`     | times out (pending)       | succeeded                    |
| `0004`     | times out (pending)       | declined `card_declined`     |
| `0005`     | declined `insufficient_funds` | declined                 |
| otherwise  | succeeded                 | succeeded                    |

Notifications (our gateway contract): JSON `{"event_id", "type": "charge.succeeded" |
"charge.failed", "merchant_ref", "txn_id", "amount_fen", "currency", "sent_at",
"failure_code"?}` with header `X-Gateway-Signature` = hex HMAC-SHA256 of the raw body
under `CARD_NOTIFY_HMAC_KEY`. The gateway signs each delivery afresh, so a `sent_at`
older than `rules.channel_notify_max_age_seconds` is a replay.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from ..clock import parse_iso
from ..config import settings
from . import base as ch
from . import http, keys

SIGNATURE_HEADER = "x-gateway-signature"
DECLINED = "card_declined"
INSUFFICIENT = "insufficient_funds"


def _digest(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:24]


def api_headers(idem: str | None = None) -> dict[str, str]:
    """Headers of a call to the gateway's API (charges, refunds, payouts)."""
    h = {"Authorization": f"Bearer {keys.secret(keys.CARD_GATEWAY_API_KEY)}", "Content-Type": "application/json"}
    if idem:
        h["Idempotency-Key"] = idem
    return h


def sign(body: bytes) -> str:
    """The gateway's signature over a raw notification body."""
    return hmac.new(keys.secret(keys.CARD_NOTIFY_HMAC_KEY).encode(), body, hashlib.sha256).hexdigest()


class SandboxGateway:
    """Deterministic outcomes from the token's last four digits; no network."""

    def charge(self, ref: ch.PaymentRef) -> ch.ChargeResult:
        last4 = (ref.instrument_token or "")[-4:]
        txn = f"sbx_txn_{_digest(ref.attempt_id)}"
        if last4.endswith("0002"):
            return ch.ChargeResult(ch.FAILED, txn, DECLINED)
        if last4.endswith("0005"):
            return ch.ChargeResult(ch.FAILED, txn, INSUFFICIENT)
        if last4.endswith(("0003", "0004")):
            return ch.ChargeResult(ch.PENDING)  # the gateway did not answer in time
        return ch.ChargeResult(ch.SUCCEEDED, txn, amount_fen=ref.amount_fen, currency=ref.currency)

    def query(self, ref: ch.PaymentRef) -> ch.ChargeResult:
        last4 = (ref.instrument_token or "")[-4:]
        txn = f"sbx_txn_{_digest(ref.attempt_id)}"
        if last4.endswith("0003"):
            return ch.ChargeResult(ch.SUCCEEDED, txn, amount_fen=ref.amount_fen, currency=ref.currency)
        if last4.endswith("0004"):
            return ch.ChargeResult(ch.FAILED, txn, DECLINED)
        return self.charge(ref)

    def refund(self, ref: ch.PaymentRef, refund_id: str, amount_fen: int, channel_txn_id: str) -> ch.RefundResult:
        return ch.RefundResult(ch.SUCCEEDED, f"sbx_rf_{_digest(refund_id)}")


class HttpGateway:
    """The gateway's JSON API: `POST /charges`, `GET /charges/{ref}`, `POST /refunds`.

    Authenticated with `CARD_GATEWAY_API_KEY`; our attempt id is the gateway's
    idempotency key, so a retried charge is one charge.
    """

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")

    def _headers(self, idem: str | None = None) -> dict[str, str]:
        return api_headers(idem)

    @staticmethod
    def _result(doc: dict[str, Any]) -> ch.ChargeResult:
        status = doc.get("status")
        if status not in (ch.SUCCEEDED, ch.FAILED, ch.PENDING):
            return ch.ChargeResult(ch.PENDING)
        return ch.ChargeResult(
            status,
            doc.get("txn_id"),
            doc.get("failure_code"),
            amount_fen=doc.get("amount_fen"),
            currency=doc.get("currency"),
        )

    def charge(self, ref: ch.PaymentRef) -> ch.ChargeResult:
        body = {
            "merchant_ref": ref.attempt_id,
            "token": ref.instrument_token,
            "amount_fen": ref.amount_fen,
            "currency": ref.currency,
            "notify_url": notify_url("card"),
        }
        try:
            answer = http.request(
                "POST",
                f"{self.base_url}/charges",
                body=json.dumps(body).encode(),
                headers=self._headers(ref.attempt_id),
            )
        except http.ChannelUnavailable:
            return ch.ChargeResult(ch.PENDING)
        if answer.status >= 400:
            return ch.ChargeResult(ch.FAILED, failure_code=f"gateway_{answer.status}")
        return self._result(answer.json())

    def query(self, ref: ch.PaymentRef) -> ch.ChargeResult:
        try:
            answer = http.request("GET", f"{self.base_url}/charges/{ref.attempt_id}", headers=self._headers())
        except http.ChannelUnavailable:
            return ch.ChargeResult(ch.PENDING)
        if answer.status == 404:
            return ch.ChargeResult(ch.FAILED, failure_code="not_found")  # the charge never reached the gateway
        if answer.status >= 400:
            return ch.ChargeResult(ch.PENDING)
        return self._result(answer.json())

    def refund(self, ref: ch.PaymentRef, refund_id: str, amount_fen: int, channel_txn_id: str) -> ch.RefundResult:
        body = {"merchant_ref": ref.attempt_id, "refund_id": refund_id, "amount_fen": amount_fen}
        try:
            answer = http.request(
                "POST", f"{self.base_url}/refunds", body=json.dumps(body).encode(), headers=self._headers(refund_id)
            )
        except http.ChannelUnavailable:
            return ch.RefundResult(ch.PENDING)
        if answer.status >= 400:
            return ch.RefundResult(ch.FAILED, failure_code=f"gateway_{answer.status}")
        doc = answer.json()
        status = doc.get("status") if doc.get("status") in (ch.SUCCEEDED, ch.FAILED, ch.PENDING) else ch.PENDING
        return ch.RefundResult(status, doc.get("refund_txn_id"), doc.get("failure_code"))


def notify_url(path: str) -> str:
    base = settings().channels.notify_base_url or ""
    return f"{base.rstrip('/')}/v1/channels/{path}/notify"


class CardChannel:
    name = ch.CARD

    def __init__(self) -> None:
        cfg = settings()
        if cfg.channel_sandbox or not cfg.channels.card_gateway_url:
            if not cfg.channel_sandbox:
                from ..config import ConfigError

                raise ConfigError("missing setting CARD_GATEWAY_URL")
            self.gateway: SandboxGateway | HttpGateway = SandboxGateway()
        else:
            self.gateway = HttpGateway(cfg.channels.card_gateway_url)

    def charge(self, ref: ch.PaymentRef) -> ch.ChargeResult:
        return self.gateway.charge(ref)

    def query(self, ref: ch.PaymentRef) -> ch.ChargeResult:
        return self.gateway.query(ref)

    def refund(self, ref: ch.PaymentRef, *, refund_id: str, amount_fen: int, channel_txn_id: str) -> ch.RefundResult:
        return self.gateway.refund(ref, refund_id, amount_fen, channel_txn_id)

    def close(self, ref: ch.PaymentRef) -> str:
        return ch.SUCCEEDED  # we take the money ourselves: no trade stays open at the channel

    def start_payment(self, ref: ch.PaymentRef) -> dict[str, Any]:
        # A card payment is taken by us, not in another app: the app calls pay now.
        return {"channel": ch.CARD, "out_trade_no": ref.attempt_id, "pay_now": f"/v1/orders/{ref.order_id}/payments"}

    def parse_notification(self, headers: Mapping[str, str], body: bytes, now: datetime) -> ch.ChannelEvent:
        given = headers.get(SIGNATURE_HEADER, "")
        if not given or not hmac.compare_digest(given.lower(), sign(body)):
            raise ch.NotificationRejected("bad_signature")
        try:
            doc = json.loads(body.decode("utf-8"))
            sent_at = parse_iso(doc["sent_at"])
            kind = doc["type"]
            event_id, attempt_id = str(doc["event_id"]), str(doc["merchant_ref"])
            amount = doc["amount_fen"]
            currency = str(doc["currency"])
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
            raise ch.NotificationRejected("malformed") from exc
        max_age = timedelta(seconds=settings().rules.channel_notify_max_age_seconds)
        if abs(now - sent_at) > max_age:
            raise ch.NotificationRejected("stale")
        if type(amount) is not int:
            raise ch.NotificationRejected("malformed")
        # Other event types (refund updates, ...) are acknowledged and change nothing here.
        status = {"charge.succeeded": ch.SUCCEEDED, "charge.failed": ch.FAILED}.get(kind, ch.PENDING)
        return ch.ChannelEvent(
            channel=ch.CARD,
            event_id=event_id,
            attempt_id=attempt_id,
            channel_txn_id=doc.get("txn_id"),
            amount_fen=amount,
            currency=currency,
            status=status,
            failure_code=doc.get("failure_code"),
        )

    def reply(self, accepted: bool, reason: str = "") -> ch.NotifyReply:
        if accepted:
            return ch.NotifyReply(200, {"received": True})
        return ch.NotifyReply(401 if reason in ch.SIGNATURE_REASONS else 400, {"received": False, "reason": reason})
