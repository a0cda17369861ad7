"""The served OpenAPI document is the committed one (`openapi.snapshot.json`, the local stage's
document, which lists every route): a refactoring leaves the contract as it was, and a change
to the contract shows in review as a change to the snapshot."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

SNAPSHOT = Path(__file__).resolve().parent / "openapi.snapshot.json"
UPDATE = "make openapi-snapshot"


def _served(app_module: Any) -> dict[str, Any]:
    from chalice.test import Client

    with Client(app_module.app) as client:
        return dict(json.loads(client.http.get("/v1/openapi.json").body))


def _differences(old: Any, new: Any, where: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        return [
            line
            for key in [*old, *(k for k in new if k not in old)]
            for line in (
                [f"{where}/{key}: removed"]
                if key not in new
                else [f"{where}/{key}: added"]
                if key not in old
                else _differences(old[key], new[key], f"{where}/{key}")
            )
        ]
    return [] if old == new else [f"{where}: {json.dumps(old)[:80]} -> {json.dumps(new)[:80]}"]


def test_the_served_document_is_the_snapshot(app_module: Any) -> None:
    served = _served(app_module)
    if os.environ.get("PAYLATER_UPDATE_OPENAPI_SNAPSHOT"):
        SNAPSHOT.write_text(json.dumps(served, indent=1, ensure_ascii=False) + "\n")
    changed = _differences(json.loads(SNAPSHOT.read_text()), served)
    assert not changed, (
        f"/v1/openapi.json differs from {SNAPSHOT.name} in {len(changed)} places (first 20 below). A refactoring must "
        f"not change the contract; a deliberate change does: run `{UPDATE}` and commit the snapshot with it.\n"
        + "\n".join(changed[:20])
    )
