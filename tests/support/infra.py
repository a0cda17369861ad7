"""scripts/infra.py (a script, not a package) loaded once as the module `infra`."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def _load_infra() -> Any:
    spec = importlib.util.spec_from_file_location("paylater_infra", ROOT / "scripts" / "infra.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["paylater_infra"] = module
    spec.loader.exec_module(module)
    return module


infra = _load_infra()
