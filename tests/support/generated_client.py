"""A Python client generated from the served OpenAPI document, as the mobile teams make
theirs (openapi-python-client), wired to the app in process through an httpx transport."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from chalice.test import Client

PACKAGE = "paylater_client"


class ChaliceTransport(httpx.BaseTransport):
    """Hands each request of the generated client to chalice.test.Client."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        resp = self.client.http.request(
            method=request.method,
            path=request.url.raw_path.decode("ascii"),
            headers=dict(request.headers),
            body=request.read(),
        )
        return httpx.Response(resp.status_code, headers=resp.headers, content=resp.body)


def generate(document: dict[str, Any], where: Path) -> list[str]:
    """Generate the client package into `where`; answers the generator's output lines."""
    doc = where / "openapi.json"
    doc.write_text(json.dumps(document, ensure_ascii=False))
    config = where / "config.json"
    config.write_text(json.dumps({"package_name_override": PACKAGE, "post_hooks": []}))
    run = subprocess.run(
        [sys.executable, "-m", "openapi_python_client", "generate", "--path", str(doc), "--meta", "none"]
        + ["--output-path", str(where / PACKAGE), "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return [line for line in (run.stdout + run.stderr).splitlines() if line.strip()]


class Generated:
    """The generated package: `op("create_checkout")` is that operation's `sync_detailed`,
    `models.CheckoutCartIn` a model, `call(...)` an operation that must succeed."""

    def __init__(self, where: Path, transport: httpx.BaseTransport) -> None:
        if str(where) not in sys.path:
            sys.path.insert(0, str(where))
        self.package = importlib.import_module(PACKAGE)
        self.models: Any = importlib.import_module(f"{PACKAGE}.models")
        self.transport = transport
        self.modules = {p.stem: p.parent.name for p in (where / PACKAGE / "api").glob("*/*.py") if p.stem != "__init__"}

    def anonymous(self) -> Any:
        return self.package.Client(base_url="http://paylater.local", httpx_args={"transport": self.transport})

    def as_(self, token: str) -> Any:
        return self.package.AuthenticatedClient(
            base_url="http://paylater.local", token=token, httpx_args={"transport": self.transport}
        )

    def op(self, operation_id: str) -> Any:
        module = importlib.import_module(f"{PACKAGE}.api.{self.modules[operation_id]}.{operation_id}")
        return module.sync_detailed

    def call(self, operation_id: str, *args: Any, **kwargs: Any) -> Any:
        """The parsed answer of a call that must succeed (2xx)."""
        resp = self.op(operation_id)(*args, **kwargs)
        assert 200 <= resp.status_code < 300, (operation_id, resp.status_code, resp.content)
        return resp.parsed
