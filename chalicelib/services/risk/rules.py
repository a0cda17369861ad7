"""The risk rule set: data (stage configuration `RISK_RULES`), not code.

A rule is `{"id", "if": [[input, op, value], ...], "outcome", "reason"}`: it matches when
every clause holds. Rules are evaluated in SPEC's order — allow list (outcome `approve`),
then block list and decline rules (`decline`), then review rules (`review`), else approve —
and the set is refused at load if written in another order. The first match decides;
every match is kept as a reason with what was observed and the threshold.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ...config import ConfigError, settings
from ...models.risk import APPROVE, DECLINE, OUTCOMES, REVIEW

OPS: dict[str, Callable[[int, int], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}
DIMENSIONS = ("user", "device", "card", "address", "merchant")
WINDOWS = {"1h": 3600, "24h": 86400, "7d": 7 * 86400}
INPUTS = frozenset(
    {
        "amount_fen",
        *(f"{d}_{what}_{w}" for d in DIMENSIONS for what in ("orders", "fen") for w in WINDOWS),
        "exposure_bps",  # (credit in use + this order) / limit, in basis points
        "account_age_hours",
        "first_order",  # 1 when the user has no 先用后付 order paid yet
        "past_orders",
        "median_order_fen",  # of the user's last 20 paid 先用后付 orders (0: none)
        "amount_over_median_pct",  # this amount / that median, in percent (0: no median)
        "overdue_open",
        "allow_listed",
        "block_listed",
    }
)
# An allow rule comes first, then declines (the block list is one), then reviews.
RANK = {APPROVE: 0, DECLINE: 1, REVIEW: 2}


@dataclass(frozen=True)
class Clause:
    input: str
    op: str
    value: int

    def holds(self, inputs: Mapping[str, int]) -> bool:
        return OPS[self.op](int(inputs.get(self.input, 0)), self.value)


@dataclass(frozen=True)
class Rule:
    rule_id: str
    clauses: tuple[Clause, ...]
    outcome: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.rule_id,
            "if": [[c.input, c.op, c.value] for c in self.clauses],
            "outcome": self.outcome,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Reason:
    rule_id: str
    reason: str
    outcome: str
    observed: dict[str, int]
    threshold: dict[str, str]  # input → "<op> <value>"

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "reason": self.reason,
            "outcome": self.outcome,
            "observed": self.observed,
            "threshold": self.threshold,
        }


@dataclass(frozen=True)
class RuleSet:
    version: str
    rules: tuple[Rule, ...]

    def inputs(self) -> set[str]:
        """Every input some rule looks at."""
        return {c.input for rule in self.rules for c in rule.clauses}

    def evaluate(self, inputs: Mapping[str, int]) -> tuple[str, list[Reason]]:
        """The outcome (the first matching rule's, else approve) and every matching rule."""
        matched = [rule for rule in self.rules if all(c.holds(inputs) for c in rule.clauses)]
        outcome = matched[0].outcome if matched else APPROVE
        reasons = [
            Reason(
                rule.rule_id,
                rule.reason,
                rule.outcome,
                {c.input: int(inputs.get(c.input, 0)) for c in rule.clauses},
                {c.input: f"{c.op} {c.value}" for c in rule.clauses},
            )
            for rule in matched
        ]
        return outcome, reasons


def parse(raw: str) -> RuleSet:
    """A rule set from its JSON; a malformed one is a `ConfigError` (the stage does not start)."""
    try:
        doc = json.loads(raw)
        version = str(doc["version"])
        rules = tuple(_rule(r) for r in doc["rules"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"RISK_RULES is malformed: {exc}") from exc
    ranks = [RANK[r.outcome] for r in rules]
    if ranks != sorted(ranks):
        raise ConfigError("RISK_RULES must list allow rules, then decline rules, then review rules")
    if len({r.rule_id for r in rules}) != len(rules):
        raise ConfigError("RISK_RULES has a rule id twice")
    return RuleSet(version, rules)


def _rule(raw: Mapping[str, Any]) -> Rule:
    clauses = []
    for name, op, value in raw["if"]:
        if name not in INPUTS or op not in OPS or isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"rule {raw.get('id')}: bad clause {[name, op, value]}")
        clauses.append(Clause(name, op, value))
    if raw["outcome"] not in OUTCOMES or not clauses:
        raise ValueError(f"rule {raw.get('id')}: bad outcome or no clause")
    return Rule(str(raw["id"]), tuple(clauses), str(raw["outcome"]), str(raw["reason"]))


@lru_cache(maxsize=4)
def _parsed(raw: str) -> RuleSet:
    return parse(raw)


def current() -> RuleSet:
    """The stage's rule set (parsed once per distinct configuration)."""
    return _parsed(settings().rules.risk_rules)
