"""The bank gateway's payout call: transfer a merchant's money to its bank account.

The account number goes to the gateway's vault once (`tokenize`); we keep the token, the
last four digits and the bank. Our payout id is the gateway's idempotency key, so a
transfer retried with the same id is one transfer; a timeout is never re-sent, only
queried.

Sandbox gateway (local stage and tests): outcomes from the account's last four digits,
as for cards (`card.py`):

| last4 ends | transfer                     | later `query`                  |
|------------|------------------------------|--------------------------------|
| `0002`     | failed `account_invalid`     | failed                         |
| `0003`     | times out (pending)          | paid                           |
| `0004`     | times out (pending)          | failed `account_frozen`        |
| otherwise  | paid                         | paid                           |
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Protocol

from ..config import ConfigError, settings
from ..pii import keyed_hash
from . import card, http
from .base import FAILED, PENDING, SUCCEEDED, Outcome

ACCOUNT_INVALID = "account_invalid"
ACCOUNT_FROZEN = "account_frozen"


@dataclass(frozen=True)
class AccountToken:
    token: str
    last4: str


def tokenize(account_number: str) -> AccountToken:
    """The vault's token for an account number (the sandbox derives it from a keyed hash)."""
    fingerprint = keyed_hash("payout_account", account_number)
    last4 = account_number[-4:]
    return AccountToken(token=f"sbx_{fingerprint[:24]}_{last4}", last4=last4)


@dataclass(frozen=True)
class TransferRef:
    payout_id: str  # ours: the gateway's idempotency key
    amount_fen: int
    currency: str
    account_token: str


@dataclass(frozen=True)
class TransferResult:
    status: Outcome  # SUCCEEDED | FAILED | PENDING (not known yet)
    txn_id: str | None = None
    failure_code: str | None = None


class PayoutGateway(Protocol):
    def transfer(self, ref: TransferRef) -> TransferResult: ...

    def query(self, ref: TransferRef) -> TransferResult: ...


def _txn(payout_id: str) -> str:
    return "sbx_po_" + hashlib.sha256(payout_id.encode()).hexdigest()[:20]


class SandboxPayouts:
    def transfer(self, ref: TransferRef) -> TransferResult:
        last4 = ref.account_token[-4:]
        if last4.endswith("0002"):
            return TransferResult(FAILED, _txn(ref.payout_id), ACCOUNT_INVALID)
        if last4.endswith(("0003", "0004")):
            return TransferResult(PENDING)
        return TransferResult(SUCCEEDED, _txn(ref.payout_id))

    def query(self, ref: TransferRef) -> TransferResult:
        last4 = ref.account_token[-4:]
        if last4.endswith("0003"):
            return TransferResult(SUCCEEDED, _txn(ref.payout_id))
        if last4.endswith("0004"):
            return TransferResult(FAILED, _txn(ref.payout_id), ACCOUNT_FROZEN)
        return self.transfer(ref)


class HttpPayouts:
    """The gateway's JSON API: `POST /payouts`, `GET /payouts/{payout_id}`."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")

    def _headers(self, idem: str | None = None) -> dict[str, str]:
        return card.api_headers(idem)

    @staticmethod
    def _result(doc: dict[str, Any]) -> TransferResult:
        status = doc.get("status")
        if status not in (SUCCEEDED, FAILED):
            return TransferResult(PENDING)
        return TransferResult(status, doc.get("txn_id"), doc.get("failure_code"))

    def transfer(self, ref: TransferRef) -> TransferResult:
        body = {
            "payout_id": ref.payout_id,
            "token": ref.account_token,
            "amount_fen": ref.amount_fen,
            "currency": ref.currency,
        }
        try:
            answer = http.request(
                "POST", f"{self.base_url}/payouts", body=json.dumps(body).encode(), headers=self._headers(ref.payout_id)
            )
        except http.ChannelUnavailable:
            return TransferResult(PENDING)
        if 400 <= answer.status < 500:
            return TransferResult(FAILED, failure_code=f"gateway_{answer.status}")
        if answer.status >= 500:
            return TransferResult(PENDING)
        return self._result(answer.json())

    def query(self, ref: TransferRef) -> TransferResult:
        try:
            answer = http.request("GET", f"{self.base_url}/payouts/{ref.payout_id}", headers=self._headers())
        except http.ChannelUnavailable:
            return TransferResult(PENDING)
        if answer.status == 404:
            return TransferResult(FAILED, failure_code="not_found")  # it never reached the gateway
        if answer.status >= 400:
            return TransferResult(PENDING)
        return self._result(answer.json())


def gateway() -> PayoutGateway:
    cfg = settings()
    if cfg.channel_sandbox:
        return SandboxPayouts()
    if not cfg.channels.card_gateway_url:
        raise ConfigError("missing setting CARD_GATEWAY_URL")
    return HttpPayouts(cfg.channels.card_gateway_url)
