"""A package's public modules, loaded when first used (PEP 562).

Code outside a package enters it through its `__init__` (tests/test_import_graph.py), and
an `__init__` that imported every public module at once would tie the packages of
`services` into import cycles (installments -> payments -> orders -> installments). So an
`__init__` names its public modules for the type checker and the import graph, and loads
each on first attribute access:

    if TYPE_CHECKING:
        from . import lists, reviews
    else:
        __getattr__ = lazy.modules(__name__, ["lists", "reviews"])

A route's first request runs with the garbage collector paused (`collector_paused`).
"""

from __future__ import annotations

import gc
import importlib
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from types import ModuleType


def modules(package: str, names: Iterable[str]) -> Callable[[str], ModuleType]:
    """The `__getattr__` of `package`: its public module `name`, imported on first use."""
    public = frozenset(names)

    def load(name: str) -> ModuleType:
        if name not in public:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return importlib.import_module(f"{package}.{name}")

    return load


_pause_lock = threading.Lock()
_pauses = [0, False]  # first uses in progress; whether the collector was on before the first


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while a first use loads its modules (a route's
    router, schemas and services, botocore's models), then what it allocated frozen
    (`gc.freeze`) and the collector back on, unless it was off before. Nearly all of it lives
    as long as the process: collecting the young generations over and over while it grew,
    then once more over all of it, was ~15 % of a first order read's CPU (`make bench`,
    imports). Reference counting still frees the rest; a cycle a first use left behind stays
    frozen (one request's worth, once per route and process)."""
    with _pause_lock:
        if _pauses[0] == 0:
            _pauses[1] = gc.isenabled()
            gc.disable()
        _pauses[0] += 1
    try:
        yield
    finally:
        with _pause_lock:
            _pauses[0] -= 1
            if _pauses[0] == 0 and _pauses[1]:
                gc.freeze()
                gc.enable()
