"""The tests stay in folders by kind (tests/README.md), and shared helpers in tests/support:
no test file sits in tests/ itself, and no test module imports a test file."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
KINDS = {"unit", "api", "jobs", "architecture", "contract", "infra", "browser", "model"}


def test_every_test_file_is_in_a_folder_of_its_kind() -> None:
    misplaced = sorted(
        str(p.relative_to(TESTS))
        for p in TESTS.rglob("test_*.py")
        if p.parent.name not in KINDS or p.parent.parent != TESTS
    )
    assert not misplaced, f"move these into one of tests/{{{','.join(sorted(KINDS))}}}/: {misplaced}"


def test_no_module_imports_a_test_file() -> None:
    importers = []
    for path in TESTS.rglob("*.py"):  # (scripts/bench.py reads the authorization matrix's cases: data)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            names += [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if any(n.startswith("tests.") and n.rsplit(".", 1)[-1].startswith("test_") for n in names):
                importers.append(f"{path.relative_to(TESTS.parent)}:{node.lineno}")
    assert not importers, f"put what these import into tests/support: {importers}"
