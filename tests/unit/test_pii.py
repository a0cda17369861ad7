"""Personal data never reaches a log or a response in full."""

from __future__ import annotations

import io
import logging

from chalicelib.config import settings
from chalicelib.observability import logger
from tests.conftest import ADULT_ID, Api

CARD = "6222020200112233446"


def test_activation_story_leaks_no_pii(api: Api) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        token = api.token("pii-user")
        bodies = [
            api.post("/v1/me/identity", {"real_name": "欧阳娜娜", "id_number": ADULT_ID}, as_="pii-user").body,
            api.post("/v1/me/bank-cards", {"card_number": CARD}, as_="pii-user").body,
            api.post("/v1/me/bank-cards", {"card_number": CARD}, as_="pii-user").body,
            api.put("/v1/me/payment-password", {"password": "135790"}, as_="pii-user").body,
            api.post(
                "/v1/bnpl/activation", {"agreement_version": settings().rules.agreement_version}, as_="pii-user"
            ).body,
            api.get("/v1/me", as_="pii-user").body,
            api.post(
                "/v1/me/identity", {"real_name": "欧阳娜娜", "id_number": "110105194912310021"}, as_="pii-user2"
            ).body,
        ]
    finally:
        logger.removeHandler(handler)
        root.removeHandler(handler)
    seen = stream.getvalue() + "".join(b.decode() for b in bodies)
    for secret in (ADULT_ID, "110105194912310021", CARD, "欧阳娜娜", "135790", token):
        assert secret not in seen
