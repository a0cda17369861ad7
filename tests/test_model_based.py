"""The model-based money test (short in `make test`; `make soak` runs ≥ 5,000 steps)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from tests.conftest import Api
from tests.model_based import Faults, MoneyMachine, steps_from_env

SETTINGS = dict(deadline=None, suppress_health_check=list(HealthCheck), derandomize=False)


def _run(api: Api, examples: int, steps: int, faults: Faults | None = None) -> None:
    MoneyMachine.api = api
    MoneyMachine.faults = faults
    try:
        run_state_machine_as_test(
            MoneyMachine, settings=settings(max_examples=examples, stateful_step_count=steps, **SETTINGS)
        )
    finally:
        MoneyMachine.faults = None


def test_money_invariants_hold_over_random_stories(api: Api) -> None:
    examples, steps = steps_from_env(4, 30)
    MoneyMachine.reached.clear()
    _run(api, examples, steps)
    assert MoneyMachine.reached["order:placed"] + MoneyMachine.reached["order:shipped"] > 0, MoneyMachine.reached


def test_money_invariants_hold_when_one_percent_of_store_calls_fail(api: Api) -> None:
    examples, steps = steps_from_env(3, 30)
    faults = Faults(rate=0.01, seed=8)
    faults.install()
    try:
        _run(api, examples, steps, faults)
    finally:
        faults.remove()
    assert faults.injected > 0


@pytest.mark.slow
def test_soak(api: Api) -> None:
    """`make soak`: ≥ 5,000 steps with faults."""
    examples, steps = steps_from_env(50, 100)
    faults = Faults(rate=0.01, seed=21)
    faults.install()
    MoneyMachine.reached.clear()
    try:
        _run(api, examples, steps, faults)
    finally:
        faults.remove()
    print(f"\nsoak: {examples} stories x {steps} steps, {faults.injected} injected faults")
    for what, n in sorted(MoneyMachine.reached.items()):
        print(f"  {what:45} {n}")
