"""The sandbox channels' servers (sandbox stages and tests): Alipay's open API gateway and
WeChat Pay's API v3, in process, answering our adapters' real requests as the channels'
documentation describes them. On a sandbox stage `http.request` hands every channel call
here instead of to the network, so the adapters' whole wire path (request signing, answer
verification) is the one production runs.

The simulator keeps each trade's state (unpaid, paid, closed) and its refunds, so it
behaves as the channels do: a closed trade can no longer be paid; closing a paid one is
refused (Alipay `ACQ.TRADE_STATUS_ERROR`, WeChat Pay `ORDERPAID`); a refund request sent
again with the same `out_request_no` answers `fund_change=N` (it changed no funds this
time); `alipay.trade.fastpay.refund.query` tells whether a refund was done; WeChat Pay
refuses a request whose `nonce_str` it has seen (a replay). `lose_answer` makes it do a
call's work and lose the answer (a timeout), as networks do.

Written from the channels' documentation, not from our adapters (it checks them). State
lives in this process: the local stack is one process; a deployed sandbox stage keeps it
per instance.
"""

from __future__ import annotations

import json
import secrets
import threading
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..config import settings
from . import keys

# Where a sandbox stage without a configured gateway sends its calls (answered here).
ALIPAY_GATEWAY = "https://openapi.sandbox.invalid/gateway.do"
WECHATPAY_API = "https://api.mch.sandbox.invalid"

UNPAID, PAID, CLOSED = "unpaid", "paid", "closed"
ALIPAY_STATE = {UNPAID: "WAIT_BUYER_PAY", PAID: "TRADE_SUCCESS", CLOSED: "TRADE_CLOSED"}
WECHAT_STATE = {UNPAID: "NOTPAY", PAID: "SUCCESS", CLOSED: "CLOSED"}

Answer = tuple[int, dict[str, str], bytes]


@dataclass
class Trade:
    out_trade_no: str
    amount_fen: int
    state: str = UNPAID
    trade_no: str = ""
    refunds: dict[str, int] = field(default_factory=dict)  # out_request_no / out_refund_no → fen


class Simulator:
    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.trades: dict[str, Trade] = {}
        self.closed_unseen: set[str] = set()  # closed before the user ever opened them
        self._lost: Counter[tuple[str, str]] = Counter()
        self.nonces: set[str] = set()

    # --- what the user (or a test playing the channel) does ----------------------------------
    def pay(self, out_trade_no: str, amount_fen: int) -> str | None:
        """The user pays in the channel's app: the trade number, or None when the trade is
        closed (the app refuses it). Paying a paid trade again is the same payment."""
        with self._lock:
            if out_trade_no in self.closed_unseen:
                return None
            trade = self.trades.setdefault(out_trade_no, Trade(out_trade_no, amount_fen))
            if trade.state == CLOSED:
                return None
            if trade.state == UNPAID:
                trade.state, trade.trade_no = PAID, trade.trade_no or _trade_no()
            return trade.trade_no

    def open(self, out_trade_no: str, amount_fen: int) -> bool:
        """The user opens the trade in the channel's app (Alipay creates it then); False when
        it was closed before."""
        with self._lock:
            if out_trade_no in self.closed_unseen:
                return False
            trade = self.trades.setdefault(out_trade_no, Trade(out_trade_no, amount_fen))
            return trade.state != CLOSED

    def record_paid(self, out_trade_no: str, amount_fen: int, trade_no: str) -> None:
        """The channel's record of a payment a test's own notification claims (the test is
        the channel: its word is the channel's state)."""
        with self._lock:
            self.closed_unseen.discard(out_trade_no)
            trade = self.trades.setdefault(out_trade_no, Trade(out_trade_no, amount_fen))
            trade.state, trade.trade_no = PAID, trade_no

    def expire(self, out_trade_no: str, amount_fen: int) -> bool:
        """The trade closes unpaid at the channel (its time ran out); False if it was paid."""
        with self._lock:
            trade = self.trades.setdefault(out_trade_no, Trade(out_trade_no, amount_fen))
            if trade.state == PAID:
                return False
            trade.state = CLOSED
            return True

    def state(self, out_trade_no: str) -> str | None:
        with self._lock:
            if out_trade_no in self.closed_unseen:
                return CLOSED
            trade = self.trades.get(out_trade_no)
            return trade.state if trade else None

    def lose_answer(self, out_trade_no: str, operation: str, times: int = 1) -> None:
        """The next `times` calls of `operation` ("close", "refund", "query", "refund_query")
        about this trade are carried out, and their answers lost (a timeout)."""
        with self._lock:
            self._lost[(out_trade_no, operation)] += times

    def _answer_lost(self, out_trade_no: str, operation: str) -> bool:
        with self._lock:
            if self._lost[(out_trade_no, operation)] > 0:
                self._lost[(out_trade_no, operation)] -= 1
                return True
            return False

    # --- the wire --------------------------------------------------------------------------------
    def serve(self, method: str, url: str, body: bytes | None, headers: dict[str, str]) -> Answer:
        """Answer one HTTPS call as the channel's server would."""
        parsed = urllib.parse.urlsplit(url)
        if parsed.path.endswith("/gateway.do"):
            return self._alipay(body or b"")
        if parsed.path.startswith("/v3/"):
            target = parsed.path + (f"?{parsed.query}" if parsed.query else "")
            return self._wechat(method, target, body or b"", {k.lower(): v for k, v in headers.items()})
        return 404, {}, b""

    # --- Alipay open API (form request signed RSA2; JSON answer signed over its node) -----------
    def _alipay(self, body: bytes) -> Answer:
        params = dict(urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        method = params.get("method", "")
        node = method.replace(".", "_") + "_response"
        content = "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "sign" and params[k] != "")
        app_public = keys.public_pem(keys.load_private_key(keys.secret(keys.ALIPAY_APP_PRIVATE_KEY)))
        if not keys.rsa_verify(app_public, content.encode(), params.get("sign", "")):
            return self._alipay_answer(node, _alipay_error("40002", "isv.invalid-signature"))
        if params.get("app_id") != settings().channels.alipay_app_id:
            return self._alipay_answer(node, _alipay_error("40002", "isv.invalid-app-id"))
        biz: dict[str, Any] = json.loads(params.get("biz_content") or "{}")
        no = str(biz.get("out_trade_no", ""))
        handlers = {
            "alipay.trade.query": ("query", self._alipay_query),
            "alipay.trade.close": ("close", self._alipay_close),
            "alipay.trade.refund": ("refund", self._alipay_refund),
            "alipay.trade.fastpay.refund.query": ("refund_query", self._alipay_refund_query),
        }
        if method not in handlers:
            return self._alipay_answer(node, _alipay_error("40004", "isv.invalid-method"))
        operation, handler = handlers[method]
        with self._lock:
            result = handler(no, biz)
        if self._answer_lost(no, operation):
            return 504, {}, b""
        return self._alipay_answer(node, result)

    def _alipay_query(self, no: str, biz: dict[str, Any]) -> dict[str, Any]:
        trade = self.trades.get(no)
        if trade is None or no in self.closed_unseen:
            return _alipay_error("40004", "ACQ.TRADE_NOT_EXIST")
        return {
            **_ok(),
            "out_trade_no": no,
            "trade_no": trade.trade_no,
            "trade_status": ALIPAY_STATE[trade.state],
            "total_amount": _yuan(trade.amount_fen),
        }

    def _alipay_close(self, no: str, biz: dict[str, Any]) -> dict[str, Any]:
        trade = self.trades.get(no)
        if trade is None:
            # Never opened by the user: nothing to close (the order string is refused from now on).
            self.closed_unseen.add(no)
            return _alipay_error("40004", "ACQ.TRADE_NOT_EXIST")
        if trade.state == PAID:
            return _alipay_error("40004", "ACQ.TRADE_STATUS_ERROR")
        trade.state = CLOSED
        return {**_ok(), "out_trade_no": no, "trade_no": trade.trade_no}

    def _alipay_refund(self, no: str, biz: dict[str, Any]) -> dict[str, Any]:
        trade = self.trades.get(no)
        if trade is None:
            return _alipay_error("40004", "ACQ.TRADE_NOT_EXIST")
        if trade.state != PAID:
            return _alipay_error("40004", "ACQ.TRADE_STATUS_ERROR")
        request_no = str(biz.get("out_request_no") or no)
        amount = _fen(str(biz.get("refund_amount", "0")))
        changed = request_no not in trade.refunds
        if changed:
            if sum(trade.refunds.values()) + amount > trade.amount_fen:
                return _alipay_error("40004", "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL")
            trade.refunds[request_no] = amount
        return {
            **_ok(),
            "out_trade_no": no,
            "trade_no": trade.trade_no,
            # Y only when this very call moved money: a repeated request answers N.
            "fund_change": "Y" if changed else "N",
            "refund_fee": _yuan(sum(trade.refunds.values())),
        }

    def _alipay_refund_query(self, no: str, biz: dict[str, Any]) -> dict[str, Any]:
        trade = self.trades.get(no)
        if trade is None:
            return _alipay_error("40004", "ACQ.TRADE_NOT_EXIST")
        request_no = str(biz.get("out_request_no") or no)
        answer: dict[str, Any] = {**_ok(), "out_trade_no": no, "trade_no": trade.trade_no}
        if request_no in trade.refunds:  # no refund data: the request never arrived (or failed)
            answer |= {
                "out_request_no": request_no,
                "refund_amount": _yuan(trade.refunds[request_no]),
                "total_amount": _yuan(trade.amount_fen),
                "refund_status": "REFUND_SUCCESS",
            }
        return answer

    def _alipay_answer(self, node: str, result: dict[str, Any]) -> Answer:
        raw = json.dumps(result, ensure_ascii=False, separators=(",", ":"))
        sign = keys.rsa_sign(keys.secret(keys.ALIPAY_SANDBOX_PLATFORM_PRIVATE_KEY), raw.encode())
        text = f'{{"{node}":{raw},"sign":"{sign}"}}'
        return 200, {"content-type": "application/json;charset=utf-8"}, text.encode()

    # --- WeChat Pay API v3 (WECHATPAY2-SHA256-RSA2048 both ways) -----------------------------
    def _wechat(self, method: str, target: str, body: bytes, headers: dict[str, str]) -> Answer:
        auth = _wechat_authorization(headers.get("authorization", ""))
        nonce, timestamp = auth.get("nonce_str", ""), auth.get("timestamp", "")
        message = f"{method}\n{target}\n{timestamp}\n{nonce}\n".encode() + body + b"\n"
        mch_public = keys.public_pem(keys.load_private_key(keys.secret(keys.WECHATPAY_MCH_PRIVATE_KEY)))
        if auth.get("mchid") != settings().channels.wechatpay_mch_id or not keys.rsa_verify(
            mch_public, message, auth.get("signature", "")
        ):
            return self._wechat_answer(401, {"code": "SIGN_ERROR", "message": "签名错误"})
        with self._lock:
            if nonce in self.nonces:
                return self._wechat_answer(401, {"code": "SIGN_ERROR", "message": "重复的请求随机串 (replay)"})
            self.nonces.add(nonce)
        path = target.split("?", 1)[0]
        doc: dict[str, Any] = json.loads(body) if body else {}
        if method == "POST" and path == "/v3/pay/transactions/app":
            no, operation = str(doc.get("out_trade_no", "")), "prepay"
            status, answer = self._wechat_prepay(no, doc)
        elif method == "POST" and path == "/v3/refund/domestic/refunds":
            no, operation = str(doc.get("out_trade_no", "")), "refund"
            status, answer = self._wechat_refund(no, doc)
        elif path.startswith("/v3/pay/transactions/out-trade-no/"):
            rest = path.removeprefix("/v3/pay/transactions/out-trade-no/")
            no, _, action = rest.partition("/")
            operation = "close" if action == "close" else "query"
            status, answer = self._wechat_close(no) if action == "close" else self._wechat_query(no)
        else:
            return self._wechat_answer(404, {"code": "NOT_FOUND", "message": "no such API"})
        if self._answer_lost(no, operation):
            return 504, {}, b""
        return self._wechat_answer(status, answer)

    def _wechat_prepay(self, no: str, doc: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
        with self._lock:
            trade = self.trades.setdefault(no, Trade(no, int(doc.get("amount", {}).get("total", 0))))
            if trade.state == PAID:
                return 400, {"code": "ORDERPAID", "message": "该订单已支付"}
            if trade.state == CLOSED:
                return 400, {"code": "ORDER_CLOSED", "message": "订单已关闭"}
            return 200, {"prepay_id": f"wx{secrets.token_hex(14)}"}

    def _wechat_query(self, no: str) -> tuple[int, dict[str, Any] | None]:
        with self._lock:
            trade = self.trades.get(no)
            if trade is None:
                return 404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"}
            answer: dict[str, Any] = {
                "appid": settings().channels.wechatpay_app_id,
                "mchid": settings().channels.wechatpay_mch_id,
                "out_trade_no": no,
                "trade_state": WECHAT_STATE[trade.state],
                "amount": {"total": trade.amount_fen, "currency": "CNY"},
            }
            if trade.state == PAID:
                answer["transaction_id"] = trade.trade_no
            return 200, answer

    def _wechat_close(self, no: str) -> tuple[int, dict[str, Any] | None]:
        with self._lock:
            trade = self.trades.get(no)
            if trade is None:
                return 404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"}
            if trade.state == PAID:
                return 400, {"code": "ORDERPAID", "message": "订单已支付"}
            trade.state = CLOSED
            return 204, None

    def _wechat_refund(self, no: str, doc: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
        with self._lock:
            trade = self.trades.get(no)
            if trade is None:
                return 404, {"code": "RESOURCE_NOT_EXISTS", "message": "订单不存在"}
            if trade.state != PAID:
                return 400, {"code": "INVALID_REQUEST", "message": "订单未支付"}
            refund_no = str(doc.get("out_refund_no", ""))
            amount = int(doc.get("amount", {}).get("refund", 0))
            if refund_no not in trade.refunds:
                if sum(trade.refunds.values()) + amount > trade.amount_fen:
                    return 400, {"code": "NOT_ENOUGH", "message": "退款金额超过可退金额"}
                trade.refunds[refund_no] = amount
            return 200, {
                "refund_id": f"50000{refund_no[-20:]}",
                "out_refund_no": refund_no,
                "out_trade_no": no,
                "transaction_id": trade.trade_no,
                "status": "SUCCESS",
                "amount": {"refund": trade.refunds[refund_no], "total": trade.amount_fen, "currency": "CNY"},
            }

    def _wechat_answer(self, status: int, doc: dict[str, Any] | None) -> Answer:
        body = b"" if doc is None else json.dumps(doc, ensure_ascii=False).encode()
        serials = settings().channels.wechatpay_platform_serials
        serial = serials[0] if serials else "SANDBOX"
        ts, nonce = str(int(datetime.now(UTC).timestamp())), secrets.token_hex(16)
        message = f"{ts}\n{nonce}\n".encode() + body + b"\n"
        headers = {
            "content-type": "application/json",
            "wechatpay-timestamp": ts,
            "wechatpay-nonce": nonce,
            "wechatpay-serial": serial,
            "wechatpay-signature": keys.rsa_sign(keys.wechatpay_sandbox_signing_key(serial), message),
        }
        return status, headers, body


def _wechat_authorization(header: str) -> dict[str, str]:
    scheme, _, rest = header.partition(" ")
    if scheme != "WECHATPAY2-SHA256-RSA2048":
        return {}
    out = {}
    for part in rest.split(","):
        name, _, value = part.strip().partition("=")
        out[name] = value.strip('"')
    return out


def _ok() -> dict[str, str]:
    return {"code": "10000", "msg": "Success"}


def _alipay_error(code: str, sub_code: str) -> dict[str, str]:
    return {"code": code, "msg": "Business Failed", "sub_code": sub_code, "sub_msg": sub_code}


def _trade_no() -> str:
    return "2026" + secrets.token_hex(12)


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def _fen(yuan: str) -> int:
    whole, _, cents = yuan.partition(".")
    return int(whole) * 100 + int((cents or "0").ljust(2, "0")[:2])


SIMULATOR = Simulator()
