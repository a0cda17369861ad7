"""Card tokenization: the card number goes to the gateway's vault and only a token comes back.

The sandbox vault (local stage and tests) derives a stable token from a keyed hash; its
token keeps the last four digits, which the sandbox gateway reads to pick an outcome.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..pii import keyed_hash

# Issuer identification numbers of common Chinese banks (public BIN ranges).
BINS = {
    "622202": "工商银行",
    "621226": "工商银行",
    "621700": "建设银行",
    "436742": "建设银行",
    "622848": "农业银行",
    "621661": "中国银行",
    "622588": "招商银行",
    "621483": "招商银行",
    "622262": "交通银行",
    "622609": "民生银行",
    "621799": "邮储银行",
    "625967": "浦发银行",
}


@dataclass(frozen=True)
class CardToken:
    token: str
    last4: str
    bank: str
    fingerprint: str  # keyed hash of the number: the same card twice is the same card


def tokenize(card_number: str) -> CardToken:
    fingerprint = keyed_hash("card", card_number)
    last4 = card_number[-4:]
    return CardToken(
        token=f"sbx_{fingerprint[:24]}_{last4}",
        last4=last4,
        bank=BINS.get(card_number[:6], "银行卡"),
        fingerprint=fingerprint,
    )
