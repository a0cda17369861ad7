"""Standard Webhooks signatures (the `standardwebhooks` package, Svix's reference code).

Signed content is `{webhook-id}.{webhook-timestamp}.{body}`; one `v1,<base64>` per active
secret, space-separated, so a receiver holding either secret verifies during a roll.
"""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def headers(event_id: str, body: str, active_secrets: list[str], sent_at: datetime) -> dict[str, str]:
    """The three headers for one delivery; `sent_at` is the real time of sending (never the
    local stack's moved clock: a receiver's tolerance is checked against its own clock)."""
    stamp = sent_at.astimezone(UTC)
    signatures = [Webhook(secret).sign(event_id, stamp, body) for secret in active_secrets]
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(stamp.timestamp())),
        "webhook-signature": " ".join(signatures),
    }
