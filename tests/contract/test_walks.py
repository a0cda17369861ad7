"""The walks run as written: every ```sh block of docs/walks.md, top to bottom in one bash
shell, against a freshly started local stack on free ports (see the top of docs/walks.md)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from scripts.fuzz import local_stack

WALKS = Path(__file__).resolve().parents[2] / "docs" / "walks.md"
RUNNABLE = re.compile(r"^```sh\n(.*?)^```", re.MULTILINE | re.DOTALL)
# Strict: a failing command, an unset variable or an HTTP error stops the walk.
PRELUDE = """set -euo pipefail
shopt -s inherit_errexit
curl() { command curl --fail-with-body --show-error --max-time 300 "$@"; }
"""


def walks() -> list[str]:
    return RUNNABLE.findall(WALKS.read_text(encoding="utf-8"))


def test_the_walks_page_has_runnable_walks() -> None:
    blocks = walks()
    assert len(blocks) >= 10
    assert all("curl" in b or "()" in b for b in blocks)


def test_the_walks_run_as_written() -> None:
    script = PRELUDE + "\n".join(walks())
    with local_stack() as base:
        env = {**os.environ, "PORT": base.rsplit(":", 1)[1]}
        run = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=600, check=False)
        undeclared = subprocess.run(
            ["curl", "-s", "-i", "-X", "TRACE", f"{base}/v1/cart"], capture_output=True, text=True, check=False
        )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-3000:]
    # A method no route declares: problem+json with API Gateway's status, never an HTML 501.
    assert undeclared.stdout.startswith("HTTP/1.1 403"), undeclared.stdout
    assert "content-type: application/problem+json" in undeclared.stdout.lower()
    assert '"code":"no_such_operation"' in undeclared.stdout
