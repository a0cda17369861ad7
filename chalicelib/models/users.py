"""Users (consumers, merchants, reviewers), their cards, devices and unique claims."""

from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from ..db import table_meta

BNPL_INACTIVE = "inactive"
BNPL_ACTIVE = "active"
BNPL_FROZEN = "frozen"


class User(Model):
    Meta = table_meta("users")

    user_id = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute()
    # Real-name verification: masked forms for display, keyed hash for uniqueness,
    # envelope-encrypted copy for the rare lawful need; never the plain number.
    real_name_masked = UnicodeAttribute(null=True)
    real_name_cipher = UnicodeAttribute(null=True)
    id_number_masked = UnicodeAttribute(null=True)
    id_number_hash = UnicodeAttribute(null=True)
    id_number_cipher = UnicodeAttribute(null=True)
    birth_date = UnicodeAttribute(null=True)
    verified_at = UnicodeAttribute(null=True)
    # Payment password: scrypt hash and the lockout counters.
    password_hash = UnicodeAttribute(null=True)
    password_failures = NumberAttribute(default=0)
    password_locked_until = UnicodeAttribute(null=True)
    # 先用后付
    bnpl_status = UnicodeAttribute(default=BNPL_INACTIVE)
    agreement_version = UnicodeAttribute(null=True)
    activated_at = UnicodeAttribute(null=True)
    default_card_id = UnicodeAttribute(null=True)
    default_card_fingerprint = UnicodeAttribute(null=True)  # the default card's (risk counts the card)
    on_time_paid_count = NumberAttribute(default=0)
    overdue_open_count = NumberAttribute(default=0)
    unpaid_bnpl_count = NumberAttribute(default=0)
    # Account closure (PIPL): personal data erased, orders and entries kept until then.
    closed_at = UnicodeAttribute(null=True)
    retention_until = UnicodeAttribute(null=True)
    # A closure in progress (services/closing.py): every action that opens something for
    # the user conditions on its absence; the open things closure conditions on.
    closing_id = UnicodeAttribute(null=True)
    closing_at = UnicodeAttribute(null=True)
    open_redemptions = NumberAttribute(null=True)
    open_returns = NumberAttribute(null=True)
    # Address book (models/addresses.py): the default's id and how many are saved (capped).
    default_address_id = UnicodeAttribute(null=True)
    address_count = NumberAttribute(null=True)
    # The device registered last: the risk rules count a password confirmation naming no
    # device against it (services/risk/signals.py `subject_of`).
    last_device_id = UnicodeAttribute(null=True)


class BankCard(Model):
    Meta = table_meta("cards")

    user_id = UnicodeAttribute(hash_key=True)
    card_id = UnicodeAttribute(range_key=True)
    gateway_token = UnicodeAttribute()
    last4 = UnicodeAttribute()
    bank = UnicodeAttribute()
    fingerprint = UnicodeAttribute(null=True)  # the vault's keyed hash of the number (null: bound before)
    is_default = BooleanAttribute(default=False)
    created_at = UnicodeAttribute()


class Device(Model):
    Meta = table_meta("devices")

    user_id = UnicodeAttribute(hash_key=True)
    device_id = UnicodeAttribute(range_key=True)
    public_key_pem = UnicodeAttribute()
    created_at = UnicodeAttribute()


class UniqueClaim(Model):
    """A value that may belong to one user only (an ID number's keyed hash)."""

    Meta = table_meta("uniques")

    claim = UnicodeAttribute(hash_key=True)
    owner = UnicodeAttribute()
    created_at = UnicodeAttribute()
