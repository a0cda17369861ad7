"""Accounts, identity, cards, password, devices, activation and the wallet summary."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from .common import NOT_BLANK, STRIP, Body, View, example
from .kinds import BnplStatus

Digits6 = Annotated[str, StringConstraints(pattern=r"^\d{6}$")]


class IdentityIn(Body):
    model_config = example({"real_name": "张三", "id_number": "11010519491231002X"})

    real_name: Annotated[str, StringConstraints(min_length=2, max_length=30, pattern=NOT_BLANK), STRIP]
    id_number: Annotated[str, StringConstraints(min_length=18, max_length=18, pattern=NOT_BLANK), STRIP]


class BankCardIn(Body):
    model_config = example({"card_number": "6222020200112233446"})

    card_number: Annotated[str, StringConstraints(pattern=r"^[0-9 ]{12,23}$")]


class PasswordIn(Body):
    model_config = example({"password": "135790"}, {"password": "246801", "old_password": "135790"})

    password: Digits6
    old_password: Digits6 | None = None


class DeviceIn(Body):
    model_config = example(
        {
            "device_id": "iphone-01",
            "public_key_pem": "-----BEGIN PUBLIC KEY-----\n(base64 of a P-256 key)\n-----END PUBLIC KEY-----",
            "password": "135790",
        }
    )

    device_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_\-]{4,64}$")]
    public_key_pem: Annotated[str, StringConstraints(min_length=50, max_length=1000)]
    password: Digits6 = Field(
        description="the payment password: registering a device is a step-up (same lockout as confirmation)"
    )


class ActivationIn(Body):
    model_config = example({"agreement_version": "2026-11-01"})

    agreement_version: Annotated[str, StringConstraints(min_length=1, max_length=32)]


class IdentityView(View):
    verified: bool
    real_name_masked: str | None = None
    id_number_masked: str | None = None
    verified_at: str | None = None


class BnplView(View):
    status: BnplStatus
    agreement_version: str | None = None
    activated_at: str | None = None


class MeView(View):
    user_id: str
    created_at: str
    identity: IdentityView
    bnpl: BnplView
    has_payment_password: bool
    payment_password_locked_until: str | None = None
    default_card_id: str | None = None


class BankCardView(View):
    card_id: str
    last4: str
    bank: str
    is_default: bool
    created_at: str


class BankCardList(View):
    items: list[BankCardView]
    next_cursor: str | None = None


class DeviceView(View):
    device_id: str
    created_at: str


class PasswordView(View):
    has_payment_password: bool


class AgreementView(View):
    version: str
    title: str
    text: str


class CreditView(View):
    limit_fen: int
    used_fen: int
    available_fen: int


class BnplAccountView(View):
    """The 先用后付 account: its status, the agreement accepted, and its credit."""

    status: BnplStatus
    agreement_version: str | None = None
    activated_at: str | None = None
    currency: str
    credit: CreditView


class WalletView(View):
    currency: str
    bnpl_status: BnplStatus
    credit: CreditView
    cash_balance_fen: int
    points: int
    points_held: int
    redeemable_fen: int = Field(description="what the spendable points are worth in fen")
    points_owed: int = Field(
        default=0, description="points a refund reversed after they were spent; later earnings settle them first"
    )
    coupons_available: int
