"""A merchant's payout account (the sandbox's card outcomes) and the hour payouts run."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.conftest import Api
from tests.support.fulfilment import MERCHANT

GOOD, FAILS, LATE_OK, LATE_FAIL = "6222020200112233446", "6222020200110002", "6222020200110003", "6222020200110004"
TO_CUTOFF = timedelta(hours=8, minutes=5)


def set_account(api: Api, number: str, merchant: str = MERCHANT) -> Any:
    body = {"account_name": "深圳某某科技有限公司", "account_number": number, "bank": "招商银行"}
    return api.put("/v1/merchant/payout-account", body, as_=merchant, roles=["merchant"])
