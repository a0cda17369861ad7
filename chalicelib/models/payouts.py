"""Merchant payouts: the payout account (stored like a card) and one record per transfer."""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from ..db import table_meta

SENDING = "sending"  # posted out of the payable, sent (or about to be) to the gateway
PAID = "paid"
FAILED = "failed"  # the payable was restored; the next day's run retries
STATUSES = (SENDING, PAID, FAILED)


class PayoutAccount(Model):
    """Where a merchant is paid: the gateway's token, last four digits and bank only."""

    Meta = table_meta("payout-accounts")

    merchant_id = UnicodeAttribute(hash_key=True)
    gateway_token = UnicodeAttribute()
    last4 = UnicodeAttribute()
    bank = UnicodeAttribute()
    account_name_masked = UnicodeAttribute()
    account_name_cipher = UnicodeAttribute()
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()


class Payout(Model):
    """One transfer of a merchant's payable. `payout_id` = "po_<China date of the cut-off>_<hash>",
    so a merchant's payouts sort by day and one cut-off can pay a merchant once."""

    Meta = table_meta("payouts")

    merchant_id = UnicodeAttribute(hash_key=True)
    payout_id = UnicodeAttribute(range_key=True)
    amount_fen = NumberAttribute()
    currency = UnicodeAttribute()
    status = UnicodeAttribute(default=SENDING)
    cutoff = UnicodeAttribute()  # the cut-off it pays up to (RFC 3339 UTC)
    # The payable entries it covers: [{event_id, kind, order_id, amount_fen, posted_at}]
    entries = JSONAttribute(default=list)
    entry_count = NumberAttribute(default=0)
    # The account it was sent to: the gateway token (needed to query it) and what shows.
    gateway_token = UnicodeAttribute()
    last4 = UnicodeAttribute()
    bank = UnicodeAttribute()
    query_at = UnicodeAttribute(null=True)  # its `payout_query` timer while the outcome is open
    gateway_txn_id = UnicodeAttribute(null=True)
    failure_code = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    settled_at = UnicodeAttribute(null=True)
