"""The route table `app.py` mounts without loading the routers is exactly theirs, and a
cold `import app` loads none of them (nor pydantic, PynamoDB, Powertools or boto3)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from chalicelib import api, routes
from chalicelib.api import all_routers
from chalicelib.config import stage_environment
from tests.conftest import Api

ROOT = Path(__file__).resolve().parents[2]


def test_the_route_table_lists_every_route_of_every_router() -> None:
    where: dict[int, str] = {}
    for router in all_routers():
        for name, module in vars(api).items():
            for attr in ("router", "sandbox_router"):
                if getattr(module, attr, None) is router:
                    where[id(router)] = name if attr == "router" else f"{name}.{attr}"
    actual = routes.table_of(all_routers(), where)
    missing = [r for r in actual if r not in routes.ROUTES]
    extra = [r for r in routes.ROUTES if r not in actual]
    assert not missing and not extra, "add to / remove from chalicelib/routes.py ROUTES:\n" + "\n".join(
        [f"+ {r!r}" for r in missing] + [f"- {r!r}" for r in extra]
    )


def test_a_cold_import_of_app_loads_no_router_and_no_sdk() -> None:
    probe = (
        "import sys, json; import app; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('pydantic', 'pynamodb', 'botocore', 'boto3', 'aws_lambda_powertools', 'cryptography', 'jwt', 'moto') "
        "or m.startswith(('chalicelib.api.', 'chalicelib.services', 'chalicelib.schemas')))))"
    )
    env = {**os.environ, **stage_environment("prod"), "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_the_openapi_document_lists_every_mounted_route(api: Api) -> None:
    doc = api.get("/v1/openapi.json").json
    paths = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    undocumented = {(s.method, s.path) for r in all_routers() if not r.documented for s in r.routes}
    assert {(r.method, r.path) for r in routes.ROUTES if not r.local_only} - undocumented <= paths
