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
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from types import ModuleType


def modules(package: str, names: Iterable[str]) -> Callable[[str], ModuleType]:
    """The `__getattr__` of `package`: its public module `name`, imported on first use."""
    public = frozenset(names)

    def load(name: str) -> ModuleType:
        if name not in public:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return importlib.import_module(f"{package}.{name}")

    return load
