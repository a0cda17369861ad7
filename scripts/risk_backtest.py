"""Back-test risk rules: replay the recorded decisions' inputs through a rule set and print
how each outcome would change — so a rule change is judged before it is deployed.

    make risk-backtest                               # the stage's current RISK_RULES
    make risk-backtest RULES=proposed.json           # a proposed rule set (the RISK_RULES JSON)
    python -m scripts.risk_backtest --stage dev      # a deployed stage's decisions (your credentials)

The local stage (default) reads the local stack's moto server (`LOCAL_AWS_PORT`). An offline
tool may read the whole decisions table page by page; the product never scans.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chalicelib.services.risk.rules import RuleSet, parse


@dataclass
class Report:
    decisions: int = 0
    moves: Counter[tuple[str, str]] = field(default_factory=Counter)  # (recorded, replayed) → n
    rules_now: Counter[str] = field(default_factory=Counter)
    rules_then: Counter[str] = field(default_factory=Counter)
    versions: Counter[str] = field(default_factory=Counter)

    @property
    def changed(self) -> int:
        return sum(n for (was, now), n in self.moves.items() if was != now)

    def lines(self) -> list[str]:
        out = [
            f"{self.decisions} recorded decisions (rules versions: {dict(self.versions)}); {self.changed} would change"
        ]
        for (was, now), n in sorted(self.moves.items()):
            out.append(f"  {was:8} → {now:8} {n:6}{'' if was == now else '   ← changed'}")
        out.append("rule matches (recorded → replayed):")
        for rule in sorted(set(self.rules_then) | set(self.rules_now)):
            out.append(f"  {rule:28} {self.rules_then[rule]:6} → {self.rules_now[rule]:6}")
        return out


def backtest(recorded: Iterable[Mapping[str, Any]], rule_set: RuleSet) -> Report:
    """Each recorded decision (`inputs`, `outcome`, `reasons`, `rules_version`) through `rule_set`."""
    report = Report()
    for d in recorded:
        outcome, reasons = rule_set.evaluate(d["inputs"])
        report.decisions += 1
        report.moves[(str(d["outcome"]), outcome)] += 1
        report.versions[str(d.get("rules_version"))] += 1
        report.rules_now.update(r.rule_id for r in reasons)
        report.rules_then.update(str(r["rule_id"]) for r in d.get("reasons") or [])
    return report


def _recorded(stage: str) -> Iterable[dict[str, Any]]:
    import boto3

    from chalicelib.config import stage_environment

    env = stage_environment(stage)
    endpoint = None
    if stage == "local":
        from chalicelib.local.ports import aws_endpoint, require_running

        require_running("LOCAL_AWS_PORT")
        endpoint = aws_endpoint()
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "cn-north-1"
    ddb = boto3.client("dynamodb", region_name=region, endpoint_url=endpoint)
    table = f"{env['TABLE_PREFIX']}-risk-decisions"
    kwargs: dict[str, Any] = {"TableName": table, "ProjectionExpression": "inputs, outcome, reasons, rules_version"}
    while True:
        page = ddb.scan(**kwargs)
        for item in page["Items"]:
            yield {
                "inputs": json.loads(item["inputs"]["S"]),
                "outcome": item["outcome"]["S"],
                "reasons": json.loads(item["reasons"]["S"]) if "reasons" in item else [],
                "rules_version": item.get("rules_version", {}).get("S"),
            }
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", default="local")
    parser.add_argument("--rules", help="a rule set (RISK_RULES JSON) file; default: the stage's")
    args = parser.parse_args(argv)
    from chalicelib.config import stage_environment

    if args.rules:
        with open(args.rules, encoding="utf-8") as fh:
            raw = fh.read()
    else:
        raw = stage_environment(args.stage)["RISK_RULES"]
    rule_set = parse(raw)
    print(f"replaying through rules version {rule_set.version}")
    for line in backtest(_recorded(args.stage), rule_set).lines():
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
