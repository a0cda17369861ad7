"""`make package` ships each module's bytecode in the zip (`scripts/infra.py` ship_bytecode):
Lambda's task root is read-only, so a zip of sources was compiled at every cold start."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.support.infra import infra

HERE = f"python{sys.version_info.major}.{sys.version_info.minor}"


def _zip(path: Path, files: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return path


def test_every_module_gets_bytecode_that_python_uses_without_checking_its_source(tmp_path: Path) -> None:
    zip_path = _zip(
        tmp_path / "deployment.zip",
        {"app.py": "VALUE = 1\n", "pkg/__init__.py": "", "pkg/mod.py": "import app\n", "legacy.py": "print 'py2'\n"},
    )
    assert infra.ship_bytecode(zip_path, {HERE}) == 3  # legacy.py does not compile: it stays source only
    task = tmp_path / "task"
    with zipfile.ZipFile(zip_path) as zf:
        names = set(zf.namelist())
        zf.extractall(task)
    tag = sys.implementation.cache_tag
    assert {
        f"__pycache__/app.{tag}.pyc",
        f"pkg/__pycache__/mod.{tag}.pyc",
        f"pkg/__pycache__/__init__.{tag}.pyc",
    } < names
    assert not [n for n in names if n.startswith("__pycache__/legacy")]
    # The source is not compared (a zip keeps mtimes to 2 s): the bytecode is what runs.
    (task / "app.py").write_text("VALUE = 2\n")
    code = "import app, pkg.mod; print(app.VALUE)"
    out = subprocess.run([sys.executable, "-B", "-c", code], cwd=task, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1"


def test_no_bytecode_for_a_runtime_other_than_this_interpreter(tmp_path: Path) -> None:
    zip_path = _zip(tmp_path / "deployment.zip", {"app.py": "VALUE = 1\n"})
    with pytest.raises(SystemExit, match="python3.0"):
        infra.ship_bytecode(zip_path, {"python3.0"})
