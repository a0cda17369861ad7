"""A route documents the problem codes the services it calls declare, and a service declares
what it raises: `errors.Raises` beside the service (`CANCEL_ERRORS = errors.raises(...)`),
`errors=orders.CANCEL_ERRORS` on the route. Read from the source (AST), best effort: a code
built at run time is not seen."""

from __future__ import annotations

import ast
import importlib
import inspect
import textwrap
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from chalicelib import errors
from chalicelib.api import all_routers
from chalicelib.errors import DomainError, Raises
from chalicelib.web import RouteSpec

ROOT = Path(__file__).resolve().parents[2]
CHALICELIB = ROOT / "chalicelib"

Pair = tuple[type[DomainError], str]

# How a refusal is made in our code: a factory of errors.py, or a kind itself.
KINDS: tuple[type[DomainError], ...] = (
    errors.BadRequest,
    errors.Unauthorized,
    errors.PaymentDeclined,
    errors.Forbidden,
    errors.NotFound,
    errors.Conflict,
    errors.Unprocessable,
    errors.Locked,
    errors.Unavailable,
    errors.RateLimited,
)
FACTORIES: dict[str, type[DomainError]] = {
    "bad_request": errors.BadRequest,
    "unauthorized": errors.Unauthorized,
    "forbidden": errors.Forbidden,
    "not_found": errors.NotFound,
    "conflict": errors.Conflict,
    "moved": errors.Conflict,
    "unprocessable": errors.Unprocessable,
    "unavailable": errors.Unavailable,
    **{kind.__name__: kind for kind in KINDS},
}
FIXED: dict[str, Pair] = {
    "state_changed": (errors.Conflict, "state_changed"),
    "illegal_transition": (errors.Conflict, "illegal_transition"),
}

# Routes whose codes are written on the route: what only the edge (the handler itself) raises,
# and a payment channel's protocol answers (not problem+json).
CHANNEL_CALLBACKS = {"alipay_notify", "wechatpay_notify", "card_notify"}


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def raised(path: Path) -> set[Pair]:
    """The (kind, code) pairs a module's source raises with a literal code (or a constant of
    the module); a factory called without a code is a helper of the module (seen where defined)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    constants = {
        target.id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    found: set[Pair] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if name in FIXED:
            found.add(FIXED[name])
        elif name in FACTORIES and node.args:
            first = node.args[0]
            code = first.value if isinstance(first, ast.Constant) else None
            code = constants.get(first.id) if isinstance(first, ast.Name) else code
            if isinstance(code, str):
                found.add((FACTORIES[name], code))
    return found


def declared_in(module: ModuleType) -> Raises:
    """Every declaration a module holds (its own, and those it imports to join)."""
    pairs: set[Pair] = set()
    for value in vars(module).values():
        if isinstance(value, Raises):
            pairs |= value.pairs
    return Raises(frozenset(pairs))


def _source(fn: Callable[..., Any]) -> ast.AST | None:
    """A function's body and signature (not its decorators: a route's `errors=` is no call)."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    except (OSError, TypeError):
        return None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            node.decorator_list = []
    return tree


def _imported_inside(fn: Callable[..., Any], tree: ast.AST) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = importlib.util.resolve_name("." * node.level + (node.module or ""), fn.__module__.rpartition(".")[0])
            for alias in node.names:
                module = importlib.import_module(base)
                found[alias.asname or alias.name] = getattr(module, alias.name, None) or importlib.import_module(
                    f"{base}.{alias.name}"
                )
    return found


def _service_module(value: Any) -> ModuleType | None:
    """The service module a value is (or defines it)."""
    name = value.__name__ if inspect.ismodule(value) else getattr(value, "__module__", "")
    if inspect.isfunction(value) or inspect.isclass(value) or inspect.ismodule(value):
        if name.startswith("chalicelib.services"):
            return importlib.import_module(name)
    return None


def services_called(fn: Callable[..., Any], seen: set[Callable[..., Any]] | None = None) -> set[ModuleType]:
    """The service modules a handler (and the helpers of its own module it calls) uses:
    `orders.cancel(...)` is `services.orders`; `payments.pay_now` is the module defining it."""
    seen = set() if seen is None else seen
    tree = _source(fn)
    if fn in seen or tree is None:
        return set()
    seen.add(fn)
    names = {**fn.__globals__, **_imported_inside(fn, tree)}
    modules: set[ModuleType] = set()
    for node in ast.walk(tree):
        value: Any = None
        if isinstance(node, ast.Name):
            value = names.get(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            base = names.get(node.value.id)
            value = getattr(base, node.attr, None) if inspect.ismodule(base) else None
        if inspect.isfunction(value) and value.__module__ == fn.__module__:
            modules |= services_called(value, seen)
        elif (module := _service_module(value)) is not None:
            modules.add(module)
    return modules


def routes() -> list[RouteSpec]:
    return [spec for router in all_routers() for spec in router.routes]


def _id(spec: RouteSpec) -> str:
    return f"{spec.method} {spec.path}"


def test_a_route_documents_what_the_services_it_calls_declare() -> None:
    wrong = []
    for spec in routes():
        if isinstance(spec.declared, dict):
            continue
        declared = spec.declared() if callable(spec.declared) else spec.declared
        called = services_called(spec.handler) | (services_called(spec.render) if spec.render else set())
        by_services = set().union(*(declared_in(m).pairs for m in called))
        stray = sorted(code for _, code in declared.pairs - by_services)
        if stray:
            wrong.append(f"{_id(spec)} documents {stray}, declared by none of {sorted(m.__name__ for m in called)}")
    assert not wrong, "\n".join(wrong)


def test_a_route_writing_its_codes_by_hand_raises_them_itself() -> None:
    """By hand: what only the edge raises (the handler itself), or a channel's protocol answers."""
    wrong = []
    for spec in routes():
        if not isinstance(spec.declared, dict) or not spec.declared or spec.name in CHANNEL_CALLBACKS:
            continue
        own = {code for _, code in raised(Path(inspect.getfile(spec.handler)))}
        stray = sorted({code for codes in spec.declared.values() for code in codes} - own)
        if stray:
            wrong.append(
                f"{_id(spec)}: {stray} come from its services: declare them there"
                " (`X_ERRORS = errors.raises(conflict=[...])`) and write `errors=service.X_ERRORS`"
            )
    assert not wrong, "\n".join(wrong)


def service_files() -> list[Path]:
    return sorted((CHALICELIB / "services").rglob("*.py"))


def test_a_service_declares_what_it_raises() -> None:
    wrong = []
    for path in service_files():
        module = importlib.import_module(_module_name(path))
        missing = sorted(f"{kind.__name__} {code}" for kind, code in raised(path) - declared_in(module).pairs)
        if missing:
            wrong.append(
                f"{module.__name__} raises undeclared: {', '.join(missing)}"
                " (declare them in the module: `X_ERRORS = errors.raises(not_found=[...], ...)`)"
            )
    assert not wrong, "\n".join(wrong)


def test_every_declared_code_is_raised_somewhere() -> None:
    """A declaration names a real refusal, of the right kind (a typo is not documented)."""
    everywhere = set().union(*(raised(p) for p in CHALICELIB.rglob("*.py")))
    declared: set[Pair] = set()
    for path in service_files():
        declared |= declared_in(importlib.import_module(_module_name(path))).pairs
    stray = declared - everywhere
    assert not stray, "declared but never raised: " + ", ".join(sorted(f"{k.__name__} {c}" for k, c in stray))


def test_the_scan_sees_codes_and_their_kinds(tmp_path: Path) -> None:
    """The source scan is not vacuous: factories, kinds, module constants, fixed codes."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from chalicelib import errors\n"
        'GONE = "thing_gone"\n'
        "def f(x):\n"
        '    raise errors.not_found("thing_not_found", "no")\n'
        "def g():\n"
        '    raise errors.moved(GONE, "moved")\n'
        "def h(kind):\n"
        '    raise errors.illegal_transition("thing", kind, "ship")\n'
        "def k(code):\n"
        '    raise errors.conflict(code, "dynamic: not seen")\n'
    )
    assert raised(sample) == {
        (errors.NotFound, "thing_not_found"),
        (errors.Conflict, "thing_gone"),
        (errors.Conflict, "illegal_transition"),
    }
