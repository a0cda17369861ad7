"""The import graph of `chalicelib` (grimp, imports inside functions included) has no cycle,
and the layers the code map promises hold: adapters and the ledger know no service, no
service knows the jobs table or the HTTP edge."""

from __future__ import annotations

from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]
MAX_LINES = 500


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("chalicelib", cache_dir=None)


def cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Every strongly connected set of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                member = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    member.append(top)
                    if top == node:
                        break
                if len(member) > 1:
                    found.append(sorted(member))
    return found


def describe(graph: grimp.ImportGraph, members: list[str]) -> str:
    first = members[0]
    back = next(m for m in sorted(graph.find_modules_directly_imported_by(first)) if m in members)
    chain = graph.find_shortest_chain(importer=back, imported=first) or ()
    return f"{len(members)} modules, e.g. {' -> '.join([first, *chain])}"


def test_chalicelib_has_no_import_cycle(graph: grimp.ImportGraph) -> None:
    found = cycles(graph)
    assert not found, "import cycles (move the shared part down a layer):\n" + "\n".join(
        describe(graph, c) for c in found
    )


@pytest.mark.parametrize(
    ("lower", "upper"),
    [
        ("chalicelib.channels", "chalicelib.services"),
        ("chalicelib.ledger", "chalicelib.services"),
        ("chalicelib.db", "chalicelib.services"),
        ("chalicelib.services", "chalicelib.schedules"),
        ("chalicelib.services", "chalicelib.api"),
        ("chalicelib.services", "chalicelib.web"),
    ],
)
def test_a_lower_layer_imports_nothing_of_an_upper_one(graph: grimp.ImportGraph, lower: str, upper: str) -> None:
    chains = graph.find_shortest_chains(importer=lower, imported=upper, as_packages=True)
    assert not chains, f"{lower} reaches {upper}: " + "; ".join(" -> ".join(c) for c in chains)


def test_no_module_in_chalicelib_is_over_500_lines() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for p in (ROOT / "chalicelib").rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}, f"split these (one concept per module): {long}"


def test_the_check_sees_a_cycle_made_inside_a_function(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The cycle check is not vacuous: two modules importing each other, one of them only
    inside a function, are found."""
    package = tmp_path / "knot"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from . import b\n")
    (package / "b.py").write_text("def later() -> None:\n    from . import a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert cycles(grimp.build_graph("knot", cache_dir=None)) == [["knot.a", "knot.b"]]
