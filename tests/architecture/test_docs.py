"""The docs match the code: the README stays a front door (≤ 200 lines) whose code map names
paths that exist and every top-level part of `chalicelib`; the numbers in docs/product.md's
rules table are the prod stage's settings; the paths docs/ names exist; relative links lead somewhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chalicelib.config import stage_environment

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
# Moved or added by a branch that may not edit README.md (i23-layers: the collection service
# is now in the payments package; `money.py` and `lazy.py` are new leaf utilities); the
# coordinator corrects the code map and empties these.
MOVED: dict[str, str] = {}
UNMAPPED: set[str] = set()


def code_map() -> str:
    text = README.read_text(encoding="utf-8")
    return text[text.index("## Code map") : text.index("## Layer rules")]


def test_the_readme_is_a_front_door() -> None:
    lines = README.read_text(encoding="utf-8").count("\n")
    assert lines <= 200, f"README.md has {lines} lines: move detail into docs/ (walks, operations, product)"


def test_every_path_the_code_map_names_exists() -> None:
    named = set(re.findall(r"`([\w./-]+(?:\.py|/))`", code_map()))
    tree = set(re.findall(r"^\s*([\w./-]+(?:\.py|/))\s", code_map(), re.MULTILINE))
    bare = {p.name for p in (ROOT / "chalicelib").rglob("*.py")}  # `pay_now.py` beside its package
    missing = [
        p
        for p in sorted(named | tree)
        if not (
            (ROOT / p).exists()
            or (ROOT / "chalicelib" / p).exists()
            or ("/" not in p and p in bare)
            or (ROOT / MOVED.get(p, p)).exists()
        )
    ]
    assert not missing, f"the README's code map names paths that are not in the tree: {missing}"


@pytest.mark.parametrize("page", DOCS, ids=lambda p: p.name)
def test_every_path_a_page_names_exists(page: Path) -> None:
    paths = re.findall(
        r"`((?:chalicelib|services|api|models|schemas|channels|local|web|tests|scripts)/[\w./-]*)",
        page.read_text("utf-8"),
    )
    missing = sorted({p for p in paths if not ((ROOT / p).exists() or (ROOT / "chalicelib" / p).exists())})
    assert not missing, f"{page.name} names paths that are not in the tree: {missing}"


def test_the_code_map_names_every_part_of_chalicelib() -> None:
    text = code_map()
    parts = [
        p.name + ("/" if p.is_dir() else "")
        for p in (ROOT / "chalicelib").iterdir()
        if not p.name.startswith(("_", "."))
        and (p.suffix == ".py" or (p / "__init__.py").exists())
        and p.name not in UNMAPPED
    ]
    unnamed = sorted(p for p in parts if not re.search(rf"(^|[\s`/]){re.escape(p)}", text, re.MULTILINE))
    assert not unnamed, f"add these to the README's code map (the layout): {unnamed}"


def test_the_rules_table_states_the_prod_settings() -> None:
    text = (ROOT / "docs" / "product.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\|[^|\n]*\|[^|\n]*\| `([A-Z_]+)` = ([^|\n]+?) \|$", text, re.MULTILINE)
    assert len(rows) >= 40
    prod = stage_environment("prod")
    wrong = [(name, value, prod.get(name)) for name, value in rows if prod.get(name) != value]
    assert not wrong, f"docs/product.md states settings the prod stage does not have (name, doc, prod): {wrong}"


@pytest.mark.parametrize("page", [README, *DOCS, ROOT / "tests" / "README.md"], ids=lambda p: p.name)
def test_relative_links_lead_somewhere(page: Path) -> None:
    links = re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8"))
    broken = [link for link in links if not (page.parent / link).exists()]
    assert not broken, broken
