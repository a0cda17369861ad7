"""What each deployed function may call in AWS: the source of its IAM role's policy.

`scripts/infra.py` turns each entry into one least-privilege policy; `make iam-check` runs the
product under those policies (each call signed as the function that makes it) and fails,
naming the role, action and resource, on any call a declaration below does not cover.

One entry per function, keyed by its Chalice name (`api_handler`, a schedule's or a queue
handler's `name=`). A function without an entry fails the template build.

    "my_job": Needs(
        tables={"orders": WRITE, "orders/by_user": QUERY, "entries": APPEND},
        send=("ReviewQueue",),          # queues it sends to (QueueDef.logical_id)
        publish=("NotificationTopic",), # SNS topics
        secret=True,                    # reads the stage secret (PII keys, channel keys)
        why={"orders/by_user": "..."},  # a grant the local run does not touch, and why it stays
    ),

A queue handler is granted the queue its `on_sqs_message` reads (and nothing else of SQS)
without saying so here. Tables by their short name (`chalicelib/definitions.py`: the model's
resource name), an index as `table/index` (Query only). Access levels, not call lists: a
level covers the code paths a local run does not reach (declines, races, retries) as well as
the ones it does; `make iam-check` prints what each role used of what it was granted.

A new table the API serves goes in its list below; a new queue in `send` by its logical id
(`definitions.all_queues`); a new topic also in `TOPICS` of scripts/infra.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# Item-level DynamoDB actions only: never Scan, BatchWriteItem (no code uses it) or table administration.
READ = ("GetItem", "BatchGetItem", "Query", "ConditionCheckItem")
APPEND = (*READ, "PutItem")  # the only writing level allowed on append-only tables (the ledger)
WRITE = (*APPEND, "UpdateItem", "DeleteItem")
QUERY = ("Query",)  # an index
# The one function that may delete from append-only tables: it removes a closed account's
# ledger entries once their retention period is over (services/erasure.py).
RETENTION_PURGE_FUNCTION = "purge_closed_accounts"
APPEND_AND_PURGE = (*APPEND, "DeleteItem")

REVIEW_QUEUE = "ReviewQueue"
WEBHOOK_QUEUE = "WebhookQueue"
NOTIFICATIONS = "NotificationTopic"


@dataclass(frozen=True)
class Needs:
    tables: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    send: tuple[str, ...] = ()
    publish: tuple[str, ...] = ()
    secret: bool = False
    # Why a table or index is granted though `make iam-check`'s run never touches it.
    why: Mapping[str, str] = field(default_factory=dict)


# A sweep takes each due timer it acts on (Query its bucket, delete the timer in the act's
# transaction) and may set the next one.
TIMERS = {"timers": WRITE}
# Moving money: ledger entries and the balances they change, in one transaction.
LEDGER = {"entries": APPEND, "balances": WRITE}
# A change a merchant hears of: its webhook event rides in the change's transaction (with its
# timer), and a message to the delivery queue follows the commit (services/webhooks/outbox.py).
EMITS = {"webhook-events": APPEND}
EMITS_WHY = "the webhook event of a change this job makes (services/webhooks/outbox.py)"

GRANTS: dict[str, Needs] = {
    # Every route: the tables and indexes the API serves, nothing of the jobs' own
    # (job_state, the reconcile and obligation indexes).
    "api_handler": Needs(
        tables={
            **TIMERS,
            **LEDGER,
            **{
                t: WRITE
                for t in (
                    "users",
                    "cards",
                    "devices",
                    "uniques",
                    "idempotency",
                    "orders",
                    "coupons",
                    "return_requests",
                    "refunds",
                    "reviews",
                    "products",
                    "skus",
                    "carts",
                    "payments",
                    "channel_inbox",
                    "notifications",
                    "redemptions",
                    "redemption_days",
                    "payout-accounts",
                    "payouts",
                    "addresses",
                    "order_messages",
                    "disputes",
                    "risk-counters",
                    "risk-lists",
                    "risk-decisions",
                    "webhook-endpoints",
                    "webhook-events",
                )
            },
            "entries/by_time": QUERY,
            "orders/by_user": QUERY,
            "orders/by_merchant_key": QUERY,
            "return_requests/by_user": QUERY,
            "return_requests/by_merchant": QUERY,
            "products/feed": QUERY,
            "products/by_merchant": QUERY,
            "payments/by_order": QUERY,
            "notifications/by_time": QUERY,
            "notifications/unread": QUERY,
            "redemptions/by_status": QUERY,
            "redemptions/by_user": QUERY,
            "disputes/by_order": QUERY,
            "disputes/by_status": QUERY,
            "webhook-events/by_order": QUERY,
            "risk-lists/by_list": QUERY,
            "risk-decisions/by_review_status": QUERY,
        },
        send=(REVIEW_QUEUE, WEBHOOK_QUEUE),
        publish=(NOTIFICATIONS,),
        secret=True,
        why={
            "payout-accounts": "merchants' payout account routes (no local walk sets one)",
            "payouts": "merchants' payout list",
            "products/by_merchant": "a merchant's product list",
            "webhook-events/by_order": "account closure erases the order copies in merchants' webhook events",
            "disputes/by_order": "support's order lookup of an order made before orders recorded their disputes",
        },
    ),
    # Cancel what was not confirmed or paid in time: stock, coupon and credit back, channel trade closed.
    "expire_checkouts": Needs(
        tables={
            **TIMERS,
            **LEDGER,
            "orders": WRITE,
            "skus": WRITE,
            "coupons": WRITE,
            "users": WRITE,
            "payments": WRITE,
            "payments/by_order": QUERY,
            **EMITS,
        },
        send=(WEBHOOK_QUEUE,),  # order.cancelled, for a confirmed channel order left unpaid
        secret=True,  # the channel's keys close its open trade
        why={
            **{
                t: "releasing a checkout that held a coupon or left a channel trade open (not played locally)"
                for t in ("balances", "coupons", "entries", "payments", "users")
            },
            "webhook-events": EMITS_WHY,
        },
    ),
    # Confirm receipt 10 days after shipment: the payment window opens, the merchant is owed.
    "auto_confirm_receipts": Needs(
        tables={**TIMERS, **LEDGER, "orders": WRITE, **EMITS},
        send=(WEBHOOK_QUEUE,),  # order.received
        why={"webhook-events": EMITS_WHY},
    ),
    "complete_orders": Needs(tables={**TIMERS, "orders": WRITE}),
    # Charge the default card when the window closes; retries; overdue and its notices.
    "close_payment_windows": Needs(
        tables={
            **TIMERS,
            **LEDGER,
            "orders": WRITE,
            "users": WRITE,
            "cards": READ,
            "payments": WRITE,
            "payments/by_order": QUERY,
            "channel_inbox": WRITE,
            "coupons": WRITE,
            "notifications": WRITE,
            "risk-counters": WRITE,  # a paid order joins the buyer's risk profile (its median)
            **EMITS,
        },
        send=(WEBHOOK_QUEUE,),  # order.paid, order.overdue
        publish=(NOTIFICATIONS,),
        secret=True,
        why={
            "coupons": "the on-time reward coupon after ON_TIME_COUPON_AFTER on-time payments",
            "webhook-events": EMITS_WHY,
        },
    ),
    "send_due_reminders": Needs(
        tables={**TIMERS, "orders": READ, "notifications": WRITE},
        publish=(NOTIFICATIONS,),
    ),
    # A channel payment that found nothing to pay goes back through its channel.
    "refund_unapplied_payments": Needs(
        tables={**TIMERS, **LEDGER, "payments": WRITE, "orders": READ, "notifications": WRITE},
        publish=(NOTIFICATIONS,),
        secret=True,
        why={
            t: "a channel payment arriving for an order already paid or cancelled (not played locally)"
            for t in ("balances", "entries", "notifications", "orders", "payments")
        },
    ),
    # Refunds through the channel that paid.
    "process_refunds": Needs(
        tables={
            **TIMERS,
            **LEDGER,
            "refunds": WRITE,
            "payments": WRITE,
            "payments/by_order": QUERY,
            "orders": READ,
            "notifications": WRITE,
        },
        publish=(NOTIFICATIONS,),
        secret=True,
        why={
            "balances": "a refund the channel declines puts the amount back on the books",
            "orders": "reads the order a refund belongs to when it fails",
        },
    ),
    # Reports, never fixes: reads the ledger, its indexes and the payout records; keeps a watermark.
    "reconcile_ledger": Needs(
        tables={
            "entries": READ,
            "entries/by_day": QUERY,
            "entries/by_hour": QUERY,
            "balances": READ,
            "payouts": READ,
            "job_state": WRITE,
        },
        why={"entries/by_hour": "entries written before the by_day index existed (LEDGER_BY_DAY_SINCE)"},
    ),
    "check_obligations": Needs(
        tables={"orders": READ, "orders/by_obligation": QUERY, "timers/by_ref": QUERY},
        why={
            "orders": "re-reads an order the index shows unwatched, before reporting it",
            "timers/by_ref": "the live timers of an order that owes something (none owed at the run's check)",
        },
    ),
    # T+1 transfers to merchants and the queries of unanswered ones.
    "run_payouts": Needs(
        tables={
            **TIMERS,
            **LEDGER,
            "entries/by_time": QUERY,
            "payout-accounts": READ,
            "payouts": WRITE,
            **EMITS,
        },
        send=(WEBHOOK_QUEUE,),  # payout.paid, payout.failed
        secret=True,  # the payout gateway's key; account tokens are decrypted with the PII key
        why={
            "entries": "the payout's ledger legs, when a merchant is owed at the cut-off",
            "webhook-events": EMITS_WHY,
        },
    ),
    # Unanswered after-sale waits: auto-approve, close, auto-refund, confirm the replacement.
    "advance_aftersale": Needs(
        tables={
            **TIMERS,
            **LEDGER,
            "orders": WRITE,
            "return_requests": WRITE,
            "refunds": WRITE,
            "users": WRITE,
            "coupons": WRITE,
            "payments": READ,
            "payments/by_order": QUERY,
            "notifications": WRITE,
            # Returned goods back to stock on arrival; a dispute past support's deadline marked late.
            "skus": WRITE,
            "disputes": WRITE,
            **EMITS,
        },
        send=(WEBHOOK_QUEUE,),  # return.answered, return.refunded, order events
        publish=(NOTIFICATIONS,),
        why={
            **{
                t: "the automatic refund when a merchant never confirms a returned parcel (not reached locally)"
                for t in ("balances", "coupons", "entries", "payments", "payments/by_order", "refunds", "users", "skus")
            },
            "disputes": "a dispute support left undecided past its deadline (not reached locally)",
            "webhook-events": EMITS_WHY,
        },
    ),
    # Closed accounts: erase addresses and message text, then delete what retention kept.
    "purge_closed_accounts": Needs(
        tables={
            **TIMERS,
            "entries": APPEND_AND_PURGE,
            "balances": WRITE,
            "users": WRITE,
            "orders": WRITE,
            "orders/by_user": QUERY,
            "payments": WRITE,
            "payments/by_order": QUERY,
            "refunds": WRITE,
            "order_messages": WRITE,
            "disputes": WRITE,
            "disputes/by_order": QUERY,
            "return_requests": WRITE,
            "return_requests/by_user": QUERY,
            "redemptions": WRITE,
            "redemptions/by_user": QUERY,
            "coupons": WRITE,
            "notifications": WRITE,
            "webhook-events": WRITE,
            "webhook-events/by_order": QUERY,
            "risk-decisions": WRITE,
            "risk-counters": WRITE,
        },
        why={
            t: "what a closed account kept (the local closed account had none of it)"
            for t in (
                "disputes",
                "disputes/by_order",
                "notifications",
                "order_messages",
                "orders",
                "payments",
                "payments/by_order",
                "redemptions",
                "refunds",
                "return_requests",
                "webhook-events",
                "webhook-events/by_order",
                "risk-decisions",
                "risk-counters",
            )
        },
    ),
    # Decline 先用后付 orders held for a risk review nobody decided in time: credit, stock and
    # coupon back, the case closed, the buyer notified (services/risk/reviews.py).
    "expire_risk_reviews": Needs(
        tables={
            **TIMERS,
            **LEDGER,
            "orders": WRITE,
            "skus": WRITE,
            "coupons": WRITE,
            "users": WRITE,
            "notifications": WRITE,
            "risk-decisions": WRITE,
            "risk-counters": WRITE,
        },
        publish=(NOTIFICATIONS,),
        why={
            name: "a held order whose review times out: cancelled, stock, credit and coupon released, "
            "the buyer told (the local run leaves no review undecided; tests/api/test_risk.py plays it)"
            for name in ("coupons", "orders", "skus", "users", "notifications", "risk-decisions", "risk-counters")
        }
        | {"balances": "the held credit released (ledger)", "entries": "the held credit released (ledger)"},
    ),
    # Roll up each closed day's risk statistics into one item (services/risk/stats.py): a
    # BatchGet of the day's shards, an update of its roll-up item.
    "roll_up_risk_stats": Needs(tables={"risk-counters": WRITE}),
    # Re-send the review message of requests whose first send was not confirmed.
    "enqueue_pending_redemptions": Needs(
        tables={**TIMERS, "redemptions": READ},
        send=(REVIEW_QUEUE,),
        why={"redemptions": "only when a review message's first send failed (not played locally)"},
    ),
    # The review queue's worker: decide automatically or leave for a reviewer.
    # Merchant webhooks: the queue worker sends an event now (or a short retry), the sweep what
    # its timer says is due; both record each attempt, disable a failing endpoint and tell its
    # merchant, and decrypt the endpoints' signing secrets with the stage's data key.
    **{
        name: Needs(
            tables={
                **TIMERS,
                "webhook-events": WRITE,
                "webhook-endpoints": WRITE,
                "notifications": WRITE,
                # an order event's body is the merchant's OrderView: its payments and refunds
                "payments/by_order": QUERY,
                "return_requests/by_user": QUERY,
                "refunds": READ,
            },
            send=(WEBHOOK_QUEUE,),
            publish=(NOTIFICATIONS,),
            secret=True,
            why={"notifications": "an endpoint disabled after 410 or 5 days of failures"},
        )
        for name in ("deliver_webhook_events", "deliver_webhooks")
    },
    "review_redemptions": Needs(
        tables={
            **LEDGER,
            "redemptions": WRITE,
            "users": WRITE,  # a decision closes one open redemption (users.open_redemptions)
            "notifications": WRITE,
        },
        publish=(NOTIFICATIONS,),
    ),
}
