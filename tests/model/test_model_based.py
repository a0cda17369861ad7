"""The model-based money test (short in `make test`; `make soak` runs ≥ 5,000 steps)."""

from __future__ import annotations

import json
import os
import time

import pytest
from hypothesis import seed, settings
from hypothesis.stateful import get_state_machine_test

from chalicelib.observability import logger
from tests.conftest import Api
from tests.support.model_based import Faults, MoneyMachine, steps_from_env
from tests.support.model_runs import SETTINGS, run_stories


def test_money_invariants_hold_over_random_stories(api: Api) -> None:
    examples, steps = steps_from_env(8, 40)
    MoneyMachine.reached.clear()
    run_stories(api, examples, steps)
    beyond = ("placed", "paid", "shipped", "received", "overdue", "return_requested", "returned", "completed")
    assert sum(MoneyMachine.reached[f"order:{s}"] for s in beyond) > 0, MoneyMachine.reached


def test_money_invariants_hold_when_store_calls_fail(api: Api) -> None:
    """About one call in 25 fails: at one in 100 (the soak's rate) these few short stories
    at times drew no fault that landed (a drawn call index past its step's calls)."""
    examples, steps = steps_from_env(3, 30)
    faults = Faults(span=25)
    run_stories(api, examples, steps, faults)
    assert sum(faults.injected.values()) > 0


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
