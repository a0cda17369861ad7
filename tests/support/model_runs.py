"""Running the model-based money test's stories (shared by tests/model's files: the
installment stories live in their own file so that `--dist loadfile` runs them on another
worker than the main stories)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from tests.conftest import Api
from tests.support.model_based import Faults, MoneyMachine

SETTINGS: dict[str, Any] = dict(deadline=None, suppress_health_check=list(HealthCheck), print_blob=True)


def run_stories(
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
