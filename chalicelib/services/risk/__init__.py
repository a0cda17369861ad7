"""Risk decisions (风控, SPEC.md "Risk decisions"): every 先用后付 confirmation is decided
before credit is reserved.

- `rules`: the rule set (stage configuration `RISK_RULES`, versioned) and its evaluation;
- `signals`: the inputs (velocity counters, the profile, lists, exposure) read in one
  BatchGet, and the counter updates added to the confirmation's transaction;
- `decide`: the one call confirmation makes (`assess`), and what each outcome writes;
- `reviews`: the `risk` role's queue, case and decision, and the timer that declines;
- `lists`: block and allow lists, values only as keyed hashes;
- `stats`: decision rates by day, outcome and rule.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ... import lazy
from ...models.risk import RiskDecision as RiskDecision
from ...models.risk import RiskListEntry as RiskListEntry

if TYPE_CHECKING:
    from . import decide, lists, reviews, rules, stats
else:
    __getattr__ = lazy.modules(__name__, ["decide", "lists", "reviews", "rules", "stats"])

__all__ = ["RiskDecision", "RiskListEntry", "decide", "lists", "reviews", "rules", "stats"]
