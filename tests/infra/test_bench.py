"""`make bench` stays runnable: one small section end to end (numbers are printed, never asserted)."""

from __future__ import annotations

from scripts import bench


def test_the_bench_runs_a_small_sweeper_section() -> None:
    out = bench.run(["sweeper"], quick=True)
    assert "items read per item settled" in out
    assert "due now                     20" in out, out


def test_the_capacity_simulation_sees_the_tables_a_purchase_writes() -> None:
    out = bench.run(["capacity"], quick=True)
    for table in ("orders ", "orders.by_user", "entries ", "entries.by_day", "timers ", "skus "):
        line = next(line for line in out.splitlines() if line.startswith(table))
        assert "no writes" not in line, line
    assert "failures: 0" in out, out


def test_the_risk_section_times_decisions_and_counts_the_confirmation_calls() -> None:
    out = bench.run(["risk"], quick=True)
    assert "decision (1 BatchGet" in out and "p99" in out, out
    # the decision's one BatchGet beside the confirmation's own, and one transaction (a token's
    # revocation check may add a GetItem when its cache expires mid-run)
    assert "'BatchGetItem': 2, 'UpdateItem': 1, 'TransactWriteItems': 1" in out, out


def test_the_bare_replay_sends_what_the_request_sent_with_fresh_minted_ids() -> None:
    def put(order_id: str, key: str) -> bench.Call:
        item = {"order_id": {"S": order_id}, "key": {"S": key}, "bucket": {"S": "expiry#10"}}
        body = {"TableName": "orders", "Item": item, "ConditionExpression": "attribute_not_exists (#0)"}
        return bench.Call("TransactWriteItems", {"TransactItems": [{"Put": body}], "ReturnConsumedCapacity": "TOTAL"})

    first = [
        bench.Call("GetItem", {"TableName": "skus", "Key": {"sku_id": {"S": "sku_same"}}}),
        put("o_" + "a" * 20, "key-" + "1" * 32),
    ]
    again = [first[0], put("o_" + "b" * 20, "key-" + "2" * 32)]
    minted = bench._minted(first, again)
    assert sorted(minted) == ["key-" + "1" * 32, "o_" + "a" * 20]  # the short bucket number is left alone

    one, two = bench._replays(first, minted, 2)
    assert (
        bench._sends(one)
        == bench._sends([(c.op, c.params) for c in first])
        == "GetItem 1, TransactWriteItems 1 (1 items), 1 conditions"
    )
    sent = one[1][1]["TransactItems"][0]["Put"]
    assert sent["ConditionExpression"] == "attribute_not_exists (#0)" and one[1][1]["ReturnConsumedCapacity"] == "TOTAL"
    assert sent["Item"]["order_id"]["S"] not in {
        "o_" + "a" * 20,
        two[1][1]["TransactItems"][0]["Put"]["Item"]["order_id"]["S"],
    }
    assert len(sent["Item"]["order_id"]["S"]) == 22 and sent["Item"]["bucket"] == {"S": "expiry#10"}
    assert one[0] == ("GetItem", first[0].params)
