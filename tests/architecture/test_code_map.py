"""The ledger's chart of accounts and the timers' kinds are named in one place each: no
`Leg(...)` names a book by a bare string outside ledger.py, and no timer is set, cleared or
swept by a bare string kind (`timers.KINDS` lists them all)."""

from __future__ import annotations

import ast
from pathlib import Path

from chalicelib import ledger, timers

ROOT = Path(__file__).resolve().parents[2]
TIMER_CALLS = {"schedule": 1, "cancel": 1, "timer": 0, "sweep": 0}


def modules() -> list[tuple[str, ast.Module]]:
    found = []
    for path in sorted((ROOT / "chalicelib").rglob("*.py")):
        name = str(path.relative_to(ROOT))
        if name != "chalicelib/ledger.py":
            found.append((name, ast.parse(path.read_text(encoding="utf-8"))))
    return found


def literal(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant | ast.JoinedStr)


def test_no_ledger_leg_names_its_book_by_a_bare_string() -> None:
    bare = [
        f"{name}:{call.lineno}"
        for name, tree in modules()
        for call in ast.walk(tree)
        if isinstance(call, ast.Call)
        and getattr(call.func, "id", getattr(call.func, "attr", None)) == "Leg"
        and len(call.args) >= 2
        and literal(call.args[1])
    ]
    assert not bare, f"name the book in ledger.py: {bare}"


def test_every_timer_kind_is_a_named_constant() -> None:
    bare = []
    for name, tree in modules():
        for call in ast.walk(tree):
            if not (
                isinstance(call, ast.Call)
                and isinstance(call.func, ast.Attribute)
                and getattr(call.func.value, "id", None) == "timers"
                and call.func.attr in TIMER_CALLS
            ):
                continue
            at = TIMER_CALLS[call.func.attr]
            if len(call.args) > at and literal(call.args[at]):
                bare.append(f"{name}:{call.lineno}")
    assert not bare, f"add the kind to timers.KINDS and use its name: {bare}"


def test_the_named_kinds_and_books_are_the_ones_in_use() -> None:
    # Every kind is a named constant of timers.py, and some other module uses that name.
    named = {k: v for k, v in vars(timers).items() if k.isupper() and isinstance(v, str) and v in timers.KINDS}
    assert set(named.values()) == set(timers.KINDS)
    used = {
        getattr(n, "attr", getattr(n, "id", getattr(n, "name", None)))
        for name, tree in modules()
        if name != "chalicelib/timers.py"
        for n in ast.walk(tree)
        if isinstance(n, ast.Attribute | ast.Name | ast.alias)
    }
    assert sorted(set(named) - used) == []
    assert ledger.clearing("card") == "clearing_card"
    assert {ledger.CREDIT_EXTENDED, ledger.FEE_REVENUE, ledger.MERCHANT_FUNDING} == {
        "credit_extended",
        "fee_revenue",
        "merchant_funding",
    }
