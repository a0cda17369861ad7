"""The fuzz's second user (scripts/fuzz_hooks.py): another consumer's or merchant's ids are
tried with the first ones' tokens, and anything but a 404 (or a refusal that comes before
any lookup) is a failure. The run itself is tests/contract/test_fuzz.py / `make fuzz`."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

FOREIGN_ORDER = "o_of_consumer_b"


@pytest.fixture
def hooks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    pytest.importorskip("schemathesis")
    state = {"tokens": {}, "ids": {"order_id": ["o_mine"]}, "foreign": {"order_id": [FOREIGN_ORDER]}}
    (tmp_path / "state.json").write_text(json.dumps(state))
    monkeypatch.setenv("PAYLATER_FUZZ_STATE", str(tmp_path / "state.json"))
    sys.modules.pop("scripts.fuzz_hooks", None)
    return importlib.import_module("scripts.fuzz_hooks")


def _case(path: str, role: str, **params: str) -> Any:
    raw = {"x-roles": [role]}
    operation = SimpleNamespace(path=path, method="get", definition=SimpleNamespace(raw=raw))
    return SimpleNamespace(operation=operation, path_parameters=params)


def test_another_users_order_must_be_a_404_to_its_owner_role(hooks: ModuleType) -> None:
    check = hooks.another_users_object_is_a_404
    case = _case("/v1/orders/{order_id}", "consumer", order_id=FOREIGN_ORDER)
    assert check(None, SimpleNamespace(status_code=404), case) is True
    for leaked in (200, 409, 500):
        with pytest.raises(AssertionError, match="another user's order_id"):
            check(None, SimpleNamespace(status_code=leaked), case)
    assert check(None, SimpleNamespace(status_code=401), case) is True  # no token: refused before any lookup


def test_own_ids_and_roles_that_see_every_order_are_not_held_to_a_404(hooks: ModuleType) -> None:
    check = hooks.another_users_object_is_a_404
    ok = SimpleNamespace(status_code=200)
    assert check(None, ok, _case("/v1/orders/{order_id}", "consumer", order_id="o_mine")) is None
    assert check(None, ok, _case("/v1/support/orders/{order_id}", "support", order_id=FOREIGN_ORDER)) is None


def test_the_fuzzer_is_offered_the_second_users_ids(hooks: ModuleType) -> None:
    strategy = hooks.flatmap_path_parameters(None, {"order_id": "generated"})
    offered = {d["order_id"] for d in strategy.elements}
    assert offered == {"generated", "o_mine", FOREIGN_ORDER}
