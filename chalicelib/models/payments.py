"""Payment attempts (one per order and attempt number) and the channel notification inbox."""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from ..db import table_meta

PENDING = "pending"
SUCCEEDED = "succeeded"
FAILED = "failed"
REFUNDED = "refunded"
STATUSES = (PENDING, SUCCEEDED, FAILED, REFUNDED)

# What a succeeded attempt did to its order.
APPLIED = "applied"  # it paid the order
UNAPPLIED = "unapplied"  # the order was no longer payable (paid by another attempt, cancelled): refunded


class AttemptsByOrder(GlobalSecondaryIndex["PaymentAttempt"]):
    class Meta:
        index_name = "by_order"
        projection = AllProjection()

    order_id = UnicodeAttribute(hash_key=True)
    attempt_no = NumberAttribute(range_key=True)


class PaymentAttempt(Model):
    """One try at paying one order through one channel.

    `attempt_id` is derived from (order id, attempt number), so attempt n of an order can
    be created once only; it is the out_trade_no / merchant reference the channel sees.
    """

    Meta = table_meta("payments")

    attempt_id = UnicodeAttribute(hash_key=True)
    order_id = UnicodeAttribute()
    attempt_no = NumberAttribute()
    user_id = UnicodeAttribute()
    channel = UnicodeAttribute()
    purpose = UnicodeAttribute(default="pay_now")  # pay_now | checkout | collection | bill
    amount_fen = NumberAttribute()
    currency = UnicodeAttribute()
    status = UnicodeAttribute(default=PENDING)
    channel_txn_id = UnicodeAttribute(null=True)
    failure_code = UnicodeAttribute(null=True)
    instrument_token = UnicodeAttribute(null=True)  # the card gateway token; never logged or shown
    card_last4 = UnicodeAttribute(null=True)
    outcome = UnicodeAttribute(null=True)  # applied | unapplied (succeeded attempts)
    refunded_fen = NumberAttribute(default=0)
    # Owed back through this payment by returns, refunded yet or not (installments: each part
    # was its own payment; a second return must not count the first one's refund as left).
    refund_owed_fen = NumberAttribute(null=True)
    # Collection attempts: which charge of the order's collection this is (1 = the window's
    # close, 2.. = the daily retries after a decline).
    collection_round = NumberAttribute(null=True)
    # A monthly bill's payment (purpose `bill`, `order_id` the bill's ref): the parts it pays,
    # locked when it starts ([{"order_id", "seq", "amount_fen", "due_at"}], services/payments/bill_lines.py).
    lines = JSONAttribute(null=True)
    # An installment order's attempt: the part it pays (the order's current part when it
    # started) and whether it pays that part (`next_part`) or everything left (`all`, for the
    # payoff quoted in `amount_fen`). Money arriving once that part is paid is refunded.
    part_seq = NumberAttribute(null=True)
    part_scope = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    settled_at = UnicodeAttribute(null=True)

    by_order = AttemptsByOrder()


class ChannelInbox(Model):
    """Each channel notification we acted on, keyed on the channel's own id.

    Written in the same transaction as the notification's effect, on condition that it
    is new: the same notification delivered twice has one effect.
    """

    Meta = table_meta("channel_inbox")

    key = UnicodeAttribute(hash_key=True)  # "<channel>#<channel event id>"
    channel = UnicodeAttribute()
    attempt_id = UnicodeAttribute()
    result = UnicodeAttribute()  # succeeded | failed | ignored | mismatch | ...
    received_at = UnicodeAttribute()
