"""The route table `app.py` mounts without loading the routers is generated from them
(`make routes`), and a cold `import app` loads none of them (nor pydantic, PynamoDB, Powertools or boto3)."""

from __future__ import annotations

import difflib
import json
import os
import subprocess
import sys
from pathlib import Path

from chalicelib import routes
from chalicelib.api import all_routers
from chalicelib.config import stage_environment
from scripts import routes as generate
from tests.conftest import Api

ROOT = Path(__file__).resolve().parents[2]


def test_the_route_table_is_generated_from_the_routers() -> None:
    """`chalicelib/route_table.py` is what `make routes` writes from the routers now."""
    committed = (ROOT / "chalicelib" / "route_table.py").read_text(encoding="utf-8")
    generated = generate.render()
    stale = list(difflib.unified_diff(committed.splitlines(), generated.splitlines(), lineterm=""))[2:]
    assert committed == generated, "chalicelib/route_table.py is stale: run `make routes`\n" + "\n".join(stale)


def test_the_route_table_lists_every_route_of_every_router() -> None:
    declared = {(s.method, s.path, s.name) for r in all_routers() for s in r.routes}
    assert {(r.method, r.path, r.name) for r in routes.ROUTES} == declared


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
