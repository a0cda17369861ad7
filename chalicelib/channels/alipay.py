"""Alipay (支付宝) App payment: a signed order string to launch, RSA2 notifications.

RSA2 = SHA256withRSA over the parameters sorted by name as `k=v&...`, values as sent.
Two strings, as Alipay's own SDKs build them (`AlipaySignature.getSignContent` /
`getSignCheckContentV1`): a request we sign leaves out `sign` and empty values and keeps
`sign_type`; an asynchronous notification's check leaves out only `sign` and `sign_type`
and keeps every other parameter, empty ones too (Alipay signed them). A notification is
ours only when its `app_id` and `seller_id` are our app and our seller (收款支付宝账号,
`ALIPAY_SELLER_ID`). We answer the plain text `success`, or `failure` (Alipay then
retries, 8 times over about 25 hours, with the same `notify_id`).
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ..clock import CHINA
from ..config import ConfigError, settings
from ..money import yuan
from . import base as ch
from . import http, keys
from .card import notify_url
from .simulator import ALIPAY_GATEWAY as SANDBOX_GATEWAY

AMOUNT = re.compile(r"^(\d{1,12})(?:\.(\d{1,2}))?$")
TRADE_STATUS = {
    "TRADE_SUCCESS": ch.SUCCEEDED,
    "TRADE_FINISHED": ch.SUCCEEDED,
    "TRADE_CLOSED": ch.FAILED,
    "WAIT_BUYER_PAY": ch.PENDING,
}


def request_sign_content(params: Mapping[str, str]) -> str:
    """The string we sign for a request: sorted `k=v` pairs but `sign`, empty values left out."""
    return "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "sign" and params[k] not in ("", None))


def notification_check_content(params: Mapping[str, str]) -> str:
    """The string a notification's `sign` covers: every parameter but `sign` and `sign_type`,
    sorted, empty values kept."""
    return "&".join(f"{k}={params[k]}" for k in sorted(params) if k not in ("sign", "sign_type"))


def fen(amount: str) -> int:
    """'12.34' -> 1234, exactly; anything else (more decimals, signs, exponents) is malformed."""
    match = AMOUNT.match(amount)
    if match is None:
        raise ValueError("not an amount in yuan")
    whole, cents = match.group(1), (match.group(2) or "").ljust(2, "0")
    return int(whole) * 100 + int(cents)


def _app_id() -> str:
    app_id = settings().channels.alipay_app_id
    if not app_id:
        raise ConfigError("missing setting ALIPAY_APP_ID")
    return app_id


def seller_id() -> str:
    """Our seller's Alipay user id (2088…): a notification for another seller is not ours."""
    value = settings().channels.alipay_seller_id
    if not value:
        raise ConfigError("missing setting ALIPAY_SELLER_ID")
    return value


def _request_params(method: str, biz: dict[str, Any], at: datetime, with_notify: bool = False) -> dict[str, str]:
    params = {
        "app_id": _app_id(),
        "method": method,
        "format": "JSON",
        "charset": "utf-8",
        "sign_type": "RSA2",
        "timestamp": at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S"),
        "version": "1.0",
        "biz_content": json.dumps(biz, ensure_ascii=False, separators=(",", ":")),
    }
    if with_notify:
        params["notify_url"] = notify_url("alipay")
    params["sign"] = keys.rsa_sign(keys.secret(keys.ALIPAY_APP_PRIVATE_KEY), request_sign_content(params).encode())
    return params


class AlipayChannel:
    name = ch.ALIPAY

    def start_payment(self, ref: ch.PaymentRef) -> dict[str, Any]:
        biz = {
            "out_trade_no": ref.attempt_id,
            "total_amount": yuan(ref.amount_fen),
            "subject": ref.description,
            "product_code": "QUICK_MSECURITY_PAY",
        }
        if ref.expires_at is not None:
            biz["time_expire"] = ref.expires_at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")
        params = _request_params("alipay.trade.app.pay", biz, ref.created_at, with_notify=True)
        return {"channel": ch.ALIPAY, "out_trade_no": ref.attempt_id, "order_string": urllib.parse.urlencode(params)}

    def charge(self, ref: ch.PaymentRef) -> ch.ChargeResult:
        raise ch.UnsupportedOperation("Alipay payments are made by the user in the Alipay app")

    def _call(self, method: str, biz: dict[str, Any]) -> dict[str, Any] | None:
        """Call the Alipay gateway and verify its signed answer; None if there is none."""
        from ..clock import clock

        gateway = settings().channels.alipay_gateway_url
        if not gateway and settings().channel_sandbox:
            gateway = SANDBOX_GATEWAY
        if not gateway:
            raise ConfigError("missing setting ALIPAY_GATEWAY_URL")
        params = _request_params(method, biz, clock.now())
        try:
            answer = http.request(
                "POST",
                gateway,
                body=urllib.parse.urlencode(params).encode(),
                headers={"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"},
            )
        except http.ChannelUnavailable:
            return None
        text = answer.body.decode("utf-8")
        node = method.replace(".", "_") + "_response"
        raw, doc = _response_node(text, node)
        if raw is None or not keys.rsa_verify(keys.secret(keys.ALIPAY_PUBLIC_KEY), raw.encode(), str(doc.get("sign"))):
            return None  # an unsigned or forged answer is no answer
        result: dict[str, Any] = doc[node]
        return result

    def query(self, ref: ch.PaymentRef) -> ch.ChargeResult:
        node = self._call("alipay.trade.query", {"out_trade_no": ref.attempt_id})
        if node is None:
            return ch.ChargeResult(ch.PENDING)
        if node.get("code") != "10000":
            return ch.ChargeResult(ch.PENDING)  # e.g. ACQ.TRADE_NOT_EXIST: the user has not opened it yet
        status = TRADE_STATUS.get(str(node.get("trade_status")), ch.PENDING)
        return ch.ChargeResult(
            status, node.get("trade_no"), amount_fen=fen(str(node.get("total_amount", "0"))), currency="CNY"
        )

    def close(self, ref: ch.PaymentRef) -> str:
        node = self._call("alipay.trade.close", {"out_trade_no": ref.attempt_id})
        if node is None:
            return ch.PENDING
        if node.get("code") == "10000" or node.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
            return ch.SUCCEEDED  # closed, or the user never opened it (nothing to pay)
        if node.get("sub_code") == "ACQ.TRADE_STATUS_ERROR":
            return ch.FAILED  # paid or finished: the notification settles it
        return ch.PENDING

    def refund(self, ref: ch.PaymentRef, *, refund_id: str, amount_fen: int, channel_txn_id: str) -> ch.RefundResult:
        """Asked first whether this refund id was done (an earlier answer may have been
        lost), sent only if not. Proof of a refund is `fund_change=Y` or the refund query's
        `REFUND_SUCCESS`: a repeated request answers `fund_change=N` though it was done."""
        done = self.refund_done(ref, refund_id)
        if done is None:
            return ch.RefundResult(ch.PENDING)  # not known: sending now could not be told from a repeat
        if done:
            return ch.RefundResult(ch.SUCCEEDED, f"{ref.attempt_id}:{refund_id}")
        node = self._call(
            "alipay.trade.refund",
            {"out_trade_no": ref.attempt_id, "refund_amount": yuan(amount_fen), "out_request_no": refund_id},
        )
        if node is None:
            return ch.RefundResult(ch.PENDING)
        if node.get("code") == "10000" and node.get("fund_change") == "Y":
            return ch.RefundResult(ch.SUCCEEDED, node.get("trade_no"))
        if node.get("code") == "10000":
            done = self.refund_done(ref, refund_id)
            return ch.RefundResult(
                ch.SUCCEEDED if done else ch.PENDING, f"{ref.attempt_id}:{refund_id}" if done else None
            )
        return ch.RefundResult(ch.FAILED, failure_code=str(node.get("sub_code") or node.get("code")))

    def refund_done(self, ref: ch.PaymentRef, refund_id: str) -> bool | None:
        """`alipay.trade.fastpay.refund.query`: True when the refund was done, False when
        Alipay has none, None when it did not answer."""
        node = self._call(
            "alipay.trade.fastpay.refund.query", {"out_trade_no": ref.attempt_id, "out_request_no": refund_id}
        )
        if node is None:
            return None
        if node.get("code") == "10000":
            return node.get("refund_status") == "REFUND_SUCCESS"
        return False if node.get("code") == "40004" else None

    def parse_notification(self, headers: Mapping[str, str], body: bytes, now: datetime) -> ch.ChannelEvent:
        params = parse_form(body)
        if params.get("sign_type") != "RSA2" or not params.get("sign"):
            raise ch.NotificationRejected("bad_signature")
        content = notification_check_content(params).encode("utf-8")
        if not keys.rsa_verify(keys.secret(keys.ALIPAY_PUBLIC_KEY), content, params["sign"]):
            raise ch.NotificationRejected("bad_signature")
        if params.get("app_id") != _app_id() or params.get("seller_id") != seller_id():
            raise ch.NotificationRejected("not_ours")
        try:
            notify_id, attempt_id = params["notify_id"], params["out_trade_no"]
            amount = fen(params["total_amount"])
        except (KeyError, ValueError) as exc:
            raise ch.NotificationRejected("malformed") from exc
        status = TRADE_STATUS.get(params.get("trade_status", ""), ch.PENDING)
        return ch.ChannelEvent(
            channel=ch.ALIPAY,
            event_id=notify_id,
            attempt_id=attempt_id,
            channel_txn_id=params.get("trade_no"),
            amount_fen=amount,
            currency=params.get("trans_currency") or "CNY",
            status=status,
            failure_code="trade_closed" if status == ch.FAILED else None,
        )

    def reply(self, accepted: bool, reason: str = "") -> ch.NotifyReply:
        if accepted:
            return ch.NotifyReply(200, "success", "text/plain")
        return ch.NotifyReply(400, "failure", "text/plain")


def parse_form(body: bytes) -> dict[str, str]:
    """A form-encoded body in its declared charset; repeated or undecodable keys are malformed."""
    try:
        text = body.decode("ascii")
        first = urllib.parse.parse_qsl(text, keep_blank_values=True, encoding="latin-1")
        charset = dict(first).get("charset") or "utf-8"
        pairs = urllib.parse.parse_qsl(text, keep_blank_values=True, encoding=charset, errors="strict")
    except (UnicodeDecodeError, LookupError, ValueError) as exc:
        raise ch.NotificationRejected("malformed") from exc
    params = dict(pairs)
    if len(params) != len(pairs):
        raise ch.NotificationRejected("malformed")
    return params


def _response_node(text: str, node: str) -> tuple[str | None, dict[str, Any]]:
    """The raw JSON text of `node` in a gateway answer (what its `sign` covers) and the doc."""
    try:
        doc: dict[str, Any] = json.loads(text)
    except ValueError:
        return None, {}
    marker = f'"{node}":'
    start = text.find(marker)
    if start < 0 or node not in doc:
        return None, doc
    start += len(marker)
    while text[start] in " \t\r\n":
        start += 1
    try:
        _, end = json.JSONDecoder().raw_decode(text, start)
    except ValueError:
        return None, doc
    return text[start:end], doc
