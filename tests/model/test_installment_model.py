"""The model-based money test's installment stories (issue 26), in their own file so that
`make test` runs them beside the main stories, on another worker."""

from __future__ import annotations

from tests.conftest import Api
from tests.support.model_based import MoneyMachine, installment_stories, steps_from_env
from tests.support.model_runs import run_stories


def test_installment_stories_keep_the_money_right(api: Api) -> None:
    """Installments (issue 26): buying in parts, paying parts, payoffs and month bills, partial
    returns at every stage and months passing, under every invariant (check_installments)."""
    examples, steps = steps_from_env(8, 40)  # fewer fixed stories never reach a purchase in parts
    MoneyMachine.reached.clear()
    run_stories(api, examples, steps, machine=installment_stories())
    assert MoneyMachine.reached["installments:checkout:201:"] > 0, MoneyMachine.reached
