"""Redemption (兑现): request, hold, the review queue, reviewers, the DLQ."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib import ledger, queues, schedules
from chalicelib.clock import clock
from chalicelib.config import settings
from chalicelib.local import redrive, worker
from chalicelib.models.redemptions import Redemption
from chalicelib.services import redemption
from tests.conftest import Api, new_key
from tests.support.wallet import balance, earn, set_user, sqs_event

DAY = 86400


def rich_user(uid: str, points: int = 20_000, *, aged: bool = True) -> str:
    earn(uid, points * 100 // settings().rules.points_per_yuan_paid)
    if aged:
        clock.advance(settings().rules.redemption_min_account_age_seconds + 60)
    return uid


def redeem(api: Api, uid: str, body: dict[str, Any], key: str | None = None) -> Any:
    return api.post("/v1/wallet/redemptions", body, as_=uid, idem=key or new_key())


def drain(api: Api) -> dict[str, int]:
    from chalicelib.api import dev

    return worker.drain(dev.QUEUE_HANDLERS)


def queued_ids() -> list[str]:
    sqs, url = queues.client(), queues.url(settings().review_queue_name)
    msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages", [])
    return [json.loads(m["Body"])["redemption_id"] for m in msgs]


# --- the request -------------------------------------------------------------------------


def test_a_request_holds_the_points_and_goes_on_the_review_queue(api: Api) -> None:
    uid = rich_user("u-req")
    r = redeem(api, uid, {"amount_fen": 1_500})
    assert r.status_code == 201, r.json
    assert r.json["status"] == "pending" and r.json["points"] == 1_500
    wallet = api.get("/v1/wallet", as_=uid).json
    assert (wallet["points"], wallet["points_held"], wallet["cash_balance_fen"]) == (18_500, 1_500, 0)
    assert queued_ids() == [r.json["redemption_id"]]


def test_a_request_may_name_points_instead_of_an_amount(api: Api) -> None:
    uid = rich_user("u-pts")
    r = redeem(api, uid, {"points": 700})
    assert r.status_code == 201 and r.json["amount_fen"] == 700 * 100 // settings().rules.points_per_yuan_redeemed


@pytest.mark.parametrize(
    "body",
    [{}, {"amount_fen": 100, "points": 100}, {"amount_fen": 1.5}, {"amount_fen": "100"}, {"amount_fen": 0}, {"x": 1}],
)
def test_a_malformed_request_is_a_400_and_holds_nothing(api: Api, body: dict[str, Any]) -> None:
    uid = rich_user("u-bad", aged=False)
    r = redeem(api, uid, body)
    assert r.status_code == 400, r.json
    assert balance(uid, ledger.POINTS_HELD) == 0


def test_short_points_are_refused_and_nothing_is_stored(api: Api) -> None:
    uid = rich_user("u-short", points=100)
    r = redeem(api, uid, {"amount_fen": 101})
    assert r.status_code == 409 and r.json["code"] == "insufficient_points"
    assert api.get("/v1/wallet/redemptions", as_=uid).json["items"] == []
    assert (balance(uid, ledger.POINTS), balance(uid, ledger.POINTS_HELD)) == (100, 0)


def test_the_same_idempotency_key_redeems_once(api: Api) -> None:
    uid = rich_user("u-idem")
    first = redeem(api, uid, {"amount_fen": 500}, key="key-redeem-1")
    again = redeem(api, uid, {"amount_fen": 500}, key="key-redeem-1")
    assert again.json == first.json and again.headers.get("Idempotent-Replayed") == "true"
    assert balance(uid, ledger.POINTS_HELD) == 500
    other = redeem(api, uid, {"amount_fen": 600}, key="key-redeem-1")
    assert other.status_code == 422 and other.json["code"] == "idempotency_key_reused"


def test_at_most_three_requests_a_day(api: Api) -> None:
    rules = settings().rules
    uid = rich_user("u-count")
    for _ in range(rules.redemption_daily_max_count):
        assert redeem(api, uid, {"amount_fen": 100}).status_code == 201
    r = redeem(api, uid, {"amount_fen": 100})
    assert r.status_code == 422 and r.json["code"] == "daily_limit_reached"
    assert balance(uid, ledger.POINTS_HELD) == 100 * rules.redemption_daily_max_count
    clock.advance(DAY)
    assert redeem(api, uid, {"amount_fen": 100}).status_code == 201


def test_at_most_two_hundred_yuan_a_day(api: Api) -> None:
    limit = settings().rules.redemption_daily_max_fen
    uid = rich_user("u-amount", points=limit * 2)
    assert redeem(api, uid, {"amount_fen": limit - 100}).status_code == 201
    r = redeem(api, uid, {"amount_fen": 101})
    assert r.status_code == 422 and r.json["code"] == "daily_limit_reached"
    assert redeem(api, uid, {"amount_fen": 100}).status_code == 201
    assert redeem(api, uid, {"amount_fen": limit + 1}).status_code == 422


def test_requests_are_listed_newest_first_and_another_users_is_a_404(api: Api) -> None:
    uid = rich_user("u-list")
    ids = []
    for amount in (100, 200):
        ids.append(redeem(api, uid, {"amount_fen": amount}).json["redemption_id"])
        clock.advance(1)
    page = api.get("/v1/wallet/redemptions?limit=1", as_=uid).json
    assert [r["redemption_id"] for r in page["items"]] == [ids[1]]
    rest = api.get(f"/v1/wallet/redemptions?limit=1&cursor={page['next_cursor']}", as_=uid).json
    assert [r["redemption_id"] for r in rest["items"]] == [ids[0]]
    assert api.get(f"/v1/wallet/redemptions/{ids[0]}", as_=uid).json["amount_fen"] == 100
    r = api.get(f"/v1/wallet/redemptions/{ids[0]}", as_="u-intruder")
    assert r.status_code == 404 and r.json["code"] == "redemption_not_found"


def test_a_request_whose_message_was_never_sent_is_sent_by_the_enqueue_job(api: Api) -> None:
    uid = rich_user("u-lost")
    sqs, url = queues.client(), queues.url(settings().review_queue_name)
    sqs.delete_queue(QueueUrl=url)
    r = redeem(api, uid, {"amount_fen": 800})
    assert r.status_code == 201 and r.json["status"] == "pending"
    from chalicelib.local.resources import create_queues

    create_queues()
    assert schedules.run("enqueue_pending_redemptions", clock.now())["processed"] == 0  # not due yet
    clock.advance(settings().rules.redemption_enqueue_grace_seconds + 1)
    assert schedules.run("enqueue_pending_redemptions", clock.now())["processed"] == 1
    drain(api)
    assert api.get(f"/v1/wallet/redemptions/{r.json['redemption_id']}", as_=uid).json["status"] == "approved"
    assert schedules.run("enqueue_pending_redemptions", clock.now())["processed"] == 0


def test_a_sent_request_leaves_no_enqueue_timer(api: Api) -> None:
    uid = rich_user("u-sent")
    redeem(api, uid, {"amount_fen": 800})
    clock.advance(settings().rules.redemption_enqueue_grace_seconds + 1)
    assert schedules.run("enqueue_pending_redemptions", clock.now()) == {
        "processed": 0,
        "skipped": 0,
        "failed": 0,
        "complete": 1,
    }


# --- the review rules --------------------------------------------------------------------


def test_a_small_request_of_an_established_user_is_auto_approved(api: Api) -> None:
    uid = rich_user("u-auto")
    amount = settings().rules.redemption_auto_approve_max_fen
    rid = redeem(api, uid, {"amount_fen": amount}).json["redemption_id"]
    assert drain(api) == {settings().review_queue_name: 1}
    shown = api.get(f"/v1/wallet/redemptions/{rid}", as_=uid).json
    assert (shown["status"], shown["reason"]) == ("approved", "auto_approved")
    wallet = api.get("/v1/wallet", as_=uid).json
    assert (wallet["cash_balance_fen"], wallet["points"], wallet["points_held"]) == (amount, 20_000 - amount, 0)
    kinds = {e["kind"] for e in api.get("/v1/wallet/entries", as_=uid).json["items"]}
    assert {"redemption_held", "redemption_credited", "redemption_points_consumed"} <= kinds
    notes = api.get("/v1/me/notifications", as_=uid).json["items"]
    assert [(n["kind"], n["ref"]) for n in notes if n["kind"].startswith("redemption")] == [
        ("redemption_approved", rid)
    ]


@pytest.mark.parametrize(
    ("setup", "amount", "reason"),
    [
        ("new", 100, "account_too_new"),
        ("aged", None, "over_auto_approve_limit"),
        ("overdue", 100, "overdue_order"),
    ],
)
def test_requests_outside_the_auto_rule_wait_for_a_reviewer(
    api: Api, setup: str, amount: int | None, reason: str
) -> None:
    uid = rich_user("u-manual", aged=setup != "new")
    if setup == "overdue":
        set_user(uid, overdue_open_count=1)
    amount = amount or settings().rules.redemption_auto_approve_max_fen + 1
    rid = redeem(api, uid, {"amount_fen": amount}).json["redemption_id"]
    drain(api)
    shown = api.get(f"/v1/wallet/redemptions/{rid}", as_=uid).json
    assert (shown["status"], shown["reason"]) == ("manual_review", reason)
    assert balance(uid, ledger.POINTS_HELD) == amount and balance(uid, ledger.CASH) == 0


def test_a_frozen_users_request_is_rejected_and_the_points_come_back(api: Api) -> None:
    uid = rich_user("u-frozen")
    set_user(uid, bnpl_status="frozen", overdue_open_count=1)
    rid = redeem(api, uid, {"amount_fen": 300}).json["redemption_id"]
    drain(api)
    shown = api.get(f"/v1/wallet/redemptions/{rid}", as_=uid).json
    assert (shown["status"], shown["reason"]) == ("rejected", "bnpl_frozen")
    assert (balance(uid, ledger.POINTS), balance(uid, ledger.POINTS_HELD), balance(uid, ledger.CASH)) == (20_000, 0, 0)
    notes = api.get("/v1/me/notifications", as_=uid).json["items"]
    assert [n["kind"] for n in notes if n["kind"].startswith("redemption")] == ["redemption_rejected"]


# --- queue semantics ---------------------------------------------------------------------


def test_duplicate_deliveries_credit_once(api: Api) -> None:
    uid = rich_user("u-dup")
    rid = redeem(api, uid, {"amount_fen": 1_000}).json["redemption_id"]
    body = {"redemption_id": rid}
    result = redemption.review_batch(sqs_event([body, body, body]))
    assert result == {"batchItemFailures": []}
    assert redemption.review_batch(sqs_event([body])) == {"batchItemFailures": []}
    assert balance(uid, ledger.CASH) == 1_000 and balance(uid, ledger.POINTS_HELD) == 0
    notes = api.get("/v1/me/notifications", as_=uid).json["items"]
    assert [n["kind"] for n in notes if n["kind"].startswith("redemption")] == ["redemption_approved"]
    credited = [e for e in api.get("/v1/wallet/entries?kind=redemption_credited", as_=uid).json["items"]]
    assert len(credited) == 1


def test_a_failing_message_does_not_fail_its_batch_mates(api: Api) -> None:
    uid = rich_user("u-batch")
    rid = redeem(api, uid, {"amount_fen": 1_000}).json["redemption_id"]
    event = sqs_event(
        ["not json", {"redemption_id": rid}, {"redemption_id": "rdm_nobody"}], ids=["m-bad", "m-ok", "m-unknown"]
    )
    result = redemption.review_batch(event)
    assert sorted(f["itemIdentifier"] for f in result["batchItemFailures"]) == ["m-bad", "m-unknown"]
    assert Redemption.get(rid).status == "approved"


def test_a_poison_message_lands_in_the_dlq_after_five_receives_and_can_be_redriven(api: Api) -> None:
    cfg = settings()
    sqs = queues.client()
    queue, dlq = queues.url(cfg.review_queue_name), queues.url(cfg.review_dlq_name)
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({"redemption_id": "rdm_poison"}))
    uid = rich_user("u-after-poison")
    rid = redeem(api, uid, {"amount_fen": 200}).json["redemption_id"]
    from chalicelib.local.resources import MAX_RECEIVES

    # The good request once, the poison one MAX_RECEIVES times, then it is dead-lettered.
    assert drain(api) == {cfg.review_queue_name: 1 + MAX_RECEIVES}
    assert Redemption.get(rid).status == "approved"
    dead = redrive.peek(sqs, dlq)
    assert [json.loads(m["body"]) for m in dead] == [{"redemption_id": "rdm_poison"}]
    assert dead[0]["receive_count"] >= 1
    assert redrive.move(sqs, dlq, queue) == 1
    assert redrive.peek(sqs, dlq) == []
    assert queued_ids() == ["rdm_poison"]


def test_the_redrive_cli_lists_the_dlq(
    api: Api, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = settings()
    sqs = queues.client()
    sqs.send_message(QueueUrl=queues.url(cfg.review_dlq_name), MessageBody=json.dumps({"redemption_id": "rdm_x"}))
    monkeypatch.setenv("SQS_ENDPOINT", "")
    monkeypatch.setenv("LOCAL_AWS_PORT", "0")
    monkeypatch.setattr(
        redrive, "_client", lambda stage: (sqs, queues.url(cfg.review_queue_name), queues.url(cfg.review_dlq_name))
    )
    assert redrive.main(["list"]) == 0
    assert json.loads(capsys.readouterr().out)["dead_letters"] == 1
    assert redrive.main(["move"]) == 0
    assert json.loads(capsys.readouterr().out) == {"moved": 1}


# --- reviewers ---------------------------------------------------------------------------


def manual_request(api: Api, uid: str, amount: int = 6_000) -> str:
    rich_user(uid)
    rid = str(redeem(api, uid, {"amount_fen": amount}).json["redemption_id"])
    drain(api)
    assert Redemption.get(rid).status == "manual_review"
    return rid


def decide(api: Api, rid: str, decision: str, key: str | None = None, as_: str = "rev-1") -> Any:
    return api.post(
        f"/v1/review/redemptions/{rid}/decision",
        {"decision": decision, "note": "checked"},
        as_=as_,
        roles=["reviewer"],
        idem=key or new_key(),
    )


def test_reviewers_list_requests_waiting_for_them_oldest_first(api: Api) -> None:
    first = manual_request(api, "u-rev-a")
    second = manual_request(api, "u-rev-b")
    page = api.get("/v1/review/redemptions?limit=1", as_="rev-1", roles=["reviewer"]).json
    assert [r["redemption_id"] for r in page["items"]] == [first]
    assert page["items"][0]["user_id"] == "u-rev-a"
    rest = api.get(f"/v1/review/redemptions?limit=1&cursor={page['next_cursor']}", as_="rev-1", roles=["reviewer"])
    assert [r["redemption_id"] for r in rest.json["items"]] == [second]
    assert api.get("/v1/review/redemptions?status=pending", as_="rev-1", roles=["reviewer"]).json["items"] == []
    assert api.get("/v1/review/redemptions?status=approved", as_="rev-1", roles=["reviewer"]).status_code == 400


def test_the_queue_shows_each_requesters_standing_and_how_long_it_waited(api: Api) -> None:
    rid = manual_request(api, "u-standing")
    set_user("u-standing", on_time_paid_count=4, overdue_open_count=1)
    clock.advance(3600)
    item = api.get("/v1/review/redemptions", as_="rev-1", roles=["reviewer"]).json["items"][0]
    assert item["redemption_id"] == rid
    assert item["waiting_seconds"] == 3600
    standing = item["standing"]
    assert standing["on_time_paid_count"] == 4 and standing["overdue_open_count"] == 1
    assert standing["bnpl_status"] == "inactive" and standing["account_created_at"] <= item["created_at"]
    assert set(standing) == {
        "bnpl_status",
        "account_created_at",
        "on_time_paid_count",
        "overdue_open_count",
        "unpaid_bnpl_count",
    }, "no personal data beside the standing"


def test_only_reviewers_review(api: Api) -> None:
    rid = manual_request(api, "u-role")
    assert api.get("/v1/review/redemptions", as_="u-role").status_code == 403
    r = api.post(f"/v1/review/redemptions/{rid}/decision", {"decision": "approve"}, as_="u-role", idem=new_key())
    assert r.status_code == 403
    assert Redemption.get(rid).status == "manual_review"


def test_a_reviewer_approval_credits_the_cash_once(api: Api) -> None:
    rid = manual_request(api, "u-approve")
    r = decide(api, rid, "approve", key="key-decision-1")
    assert r.status_code == 200, r.json
    assert (r.json["status"], r.json["decided_by"], r.json["decision_note"]) == ("approved", "rev-1", "checked")
    assert decide(api, rid, "approve", key="key-decision-1").json == r.json
    again = decide(api, rid, "reject")
    assert again.status_code == 409 and again.json["code"] == "illegal_transition"
    assert (balance("u-approve", ledger.CASH), balance("u-approve", ledger.POINTS_HELD)) == (6_000, 0)
    assert api.get("/v1/review/redemptions", as_="rev-1", roles=["reviewer"]).json["items"] == []


def test_a_reviewer_never_decides_their_own_redemption(api: Api) -> None:
    """A token with both roles: the consumer's own request waits for another reviewer."""
    rid = manual_request(api, "u-both-roles")
    for decision in ("approve", "reject"):
        r = api.post(
            f"/v1/review/redemptions/{rid}/decision",
            {"decision": decision, "note": "mine"},
            as_="u-both-roles",
            roles=["consumer", "reviewer"],
            idem=new_key(),
        )
        assert (r.status_code, r.json["code"]) == (403, "own_case"), r.json
    assert Redemption.get(rid).status == "manual_review"
    assert balance("u-both-roles", ledger.CASH) == 0
    assert decide(api, rid, "approve").json["decided_by"] == "rev-1"


def test_a_reviewer_rejection_releases_the_points(api: Api) -> None:
    rid = manual_request(api, "u-reject")
    assert decide(api, rid, "reject").json["status"] == "rejected"
    assert (balance("u-reject", ledger.POINTS), balance("u-reject", ledger.POINTS_HELD)) == (20_000, 0)
    assert api.get(f"/v1/wallet/redemptions/{rid}", as_="u-reject").json["status"] == "rejected"


def test_a_pending_or_unknown_request_cannot_be_decided(api: Api) -> None:
    uid = rich_user("u-early")
    rid = redeem(api, uid, {"amount_fen": 100}).json["redemption_id"]
    assert decide(api, rid, "approve").status_code == 409
    assert decide(api, "rdm_missing", "approve").status_code == 404
    r = api.post(f"/v1/review/redemptions/{rid}/decision", {"decision": "approve"}, as_="rev-1", roles=["reviewer"])
    assert r.status_code == 400 and r.json["code"] == "missing_idempotency_key"
    r = decide(api, rid, "maybe")
    assert r.status_code == 400
