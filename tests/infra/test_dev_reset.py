"""`make reset` (POST /v1/dev/reset, local stage only): a clean stack for the next walk."""

from __future__ import annotations

from typing import Any

import boto3

from chalicelib.clock import clock
from chalicelib.config import settings
from chalicelib.local.seed import DEMO_CONSUMER
from tests.conftest import Api


def _messages_waiting() -> int:
    sqs = boto3.client("sqs", region_name=settings().region)
    total = 0
    for url in sqs.list_queues().get("QueueUrls", []):
        attrs = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
        total += sum(int(v) for v in attrs.values())
    return total


def test_reset_empties_tables_and_queues_resets_the_clock_and_seeds_again(api: Api) -> None:
    walker = "u-walker"
    identity: dict[str, Any] = api.get("/v1/dev/sandbox").json
    body = {"real_name": identity["real_name"], "id_number": identity["id_number"]}
    assert api.post("/v1/me/identity", body, as_=walker).status_code == 200
    sqs = boto3.client("sqs", region_name=settings().region)
    sqs.send_message(QueueUrl=sqs.list_queues()["QueueUrls"][0], MessageBody="{}")
    api.post("/v1/dev/clock", {"advance_seconds": 86400})
    assert _messages_waiting() == 1

    r = api.post("/v1/dev/reset")

    assert r.status_code == 200, r.json
    assert r.json["seeded"] and clock.offset_seconds == 0
    assert api.get("/v1/dev/clock").json["offset_seconds"] == 0
    assert _messages_waiting() == 0
    assert api.get("/v1/me", as_=walker).json["identity"]["verified"] is False
    assert api.get("/v1/products?limit=1", as_=DEMO_CONSUMER).json["items"]  # the demo catalog is back
    # The same sandbox person can walk again: their ID number is no longer taken.
    assert api.post("/v1/me/identity", body, as_="u-walker-2").status_code == 200


def test_reset_is_local_only_and_listed_in_make_help() -> None:
    from pathlib import Path

    from chalicelib.routes import ROUTES

    assert [r.local_only for r in ROUTES if r.path == "/v1/dev/reset"] == [True]
    makefile = Path(__file__).resolve().parents[2].joinpath("Makefile").read_text()
    assert "\nreset: install  ## " in makefile and "\nhelp:  ## " in makefile
