"""The model-based money test (short in `make test`; `make soak` runs ≥ 5,000 steps)."""

from __future__ import annotations

import json
import os
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, seed, settings
from hypothesis.stateful import get_state_machine_test, run_state_machine_as_test

from chalicelib.observability import logger
from tests.conftest import Api
from tests.support.model_based import Faults, MoneyMachine, installment_stories, steps_from_env

SETTINGS: dict[str, Any] = dict(deadline=None, suppress_health_check=list(HealthCheck), print_blob=True)


def _run(
    api: Api,
    examples: int,
    steps: int,
    faults: Faults | None = None,
    *,
    fixed: bool = True,
    machine: type[MoneyMachine] = MoneyMachine,
) -> None:
    """`fixed` runs the same stories every time (CI); the soak explores new ones."""
    MoneyMachine.api = api
    MoneyMachine.faults = faults or Faults(span=0)  # span 0: no faults, the writes still recorded
    MoneyMachine.faults.install()
    try:
        run_state_machine_as_test(
            machine,
            settings=settings(max_examples=examples, stateful_step_count=steps, derandomize=fixed, **SETTINGS),
        )
    finally:
        MoneyMachine.faults.remove()
        MoneyMachine.faults = None


def test_money_invariants_hold_over_random_stories(api: Api) -> None:
    examples, steps = steps_from_env(8, 40)
    MoneyMachine.reached.clear()
    _run(api, examples, steps)
    beyond = ("placed", "paid", "shipped", "received", "overdue", "return_requested", "returned", "completed")
    assert sum(MoneyMachine.reached[f"order:{s}"] for s in beyond) > 0, MoneyMachine.reached


def test_money_invariants_hold_when_one_percent_of_store_calls_fail(api: Api) -> None:
    examples, steps = steps_from_env(3, 30)
    faults = Faults(span=100)
    _run(api, examples, steps, faults)
    assert sum(faults.injected.values()) > 0


def test_installment_stories_keep_the_money_right(api: Api) -> None:
    """Installments (issue 26): buying in parts, paying parts, payoffs and month bills, partial
    returns at every stage and months passing, under every invariant (check_installments)."""
    examples, steps = steps_from_env(8, 40)  # fewer fixed stories never reach a purchase in parts
    MoneyMachine.reached.clear()
    _run(api, examples, steps, machine=installment_stories())
    assert MoneyMachine.reached["installments:checkout:201:"] > 0, MoneyMachine.reached


@pytest.mark.slow
def test_soak(api: Api) -> None:
    """`make soak` (scripts/soak.py runs one of these per core, each with its own seed):
    MODEL_EXAMPLES stories of MODEL_STEPS steps, faults one call in MODEL_FAULT_SPAN.
    MODEL_SEED replays a run; a failure also prints its `@reproduce_failure` blob, which
    MODEL_REPRODUCE="<version> <blob>" replays alone."""
    examples, steps = steps_from_env(50, 100)
    run_seed = int(os.environ.get("MODEL_SEED") or int.from_bytes(os.urandom(4), "big"))
    faults = Faults(span=int(os.environ.get("MODEL_FAULT_SPAN", 100)))
    print(f"\nsoak: seed {run_seed} (replay: MODEL_SEED={run_seed} MODEL_EXAMPLES={examples} MODEL_STEPS={steps})")
    MoneyMachine.api, MoneyMachine.faults = api, faults
    logger.setLevel(os.environ.get("MODEL_LOG_LEVEL", "WARNING"))  # no line per request: warnings and errors only
    MoneyMachine.reached.clear()
    MoneyMachine.steps_run = 0
    test = get_state_machine_test(
        MoneyMachine, settings=settings(max_examples=examples, stateful_step_count=steps, database=None, **SETTINGS)
    )
    test = seed(run_seed)(test)
    if os.environ.get("MODEL_REPRODUCE"):
        from hypothesis import reproduce_failure

        version, blob = os.environ["MODEL_REPRODUCE"].split()
        test = reproduce_failure(version, blob)(test)
    faults.install()
    started = time.monotonic()
    try:
        test()
    finally:
        faults.remove()
        MoneyMachine.faults = None
        _report(examples, run_seed, faults, time.monotonic() - started)


def _report(examples: int, run_seed: int, faults: Faults, seconds: float) -> None:
    steps = MoneyMachine.steps_run
    print(f"\nsoak: {examples} stories, {steps} steps in {seconds:.0f} s ({steps / max(seconds, 1e-9):.2f} steps/s)")
    print(f"  injected faults: {sum(faults.injected.values())} {dict(sorted(faults.injected.items()))}")
    for what, n in sorted(MoneyMachine.reached.items()):
        print(f"  {what:45} {n}")
    if os.environ.get("MODEL_REPORT"):  # scripts/soak.py adds up its workers' reports
        summary = {
            "seed": run_seed,
            "steps": steps,
            "seconds": seconds,
            "injected": dict(faults.injected),
            "reached": dict(MoneyMachine.reached),
        }
        with open(os.environ["MODEL_REPORT"], "w") as f:
            json.dump(summary, f)
