"""The console's files: served at /console/ with their content types, a CSP that allows
only the console's own scripts, and nothing of it in the API's OpenAPI document."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from chalicelib import auth
from chalicelib.api.console import FILES, content_security_policy
from chalicelib.config import load, settings, stage_environment
from chalicelib.errors import PROBLEM_JSON
from tests.conftest import Api

SCRIPTS = sorted(p.name for p in FILES.glob("*.js"))


def test_the_page_is_html_with_a_csp_that_allows_only_its_own_scripts(api: Api) -> None:
    r = api.client.http.get("/console/")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "default-src 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Cache-Control"] == "no-store"
    page = r.body.decode()
    scripts = re.findall(r"<script\b[^>]*>(.*?)</script>", page, re.S)
    assert scripts and all(not body.strip() for body in scripts), "no inline script"
    assert "<style" not in page and not re.search(r"\s(?:style|on[a-z]+)=", page), "no inline style or handler"


def test_without_the_trailing_slash_the_page_redirects_to_it(api: Api) -> None:
    r = api.client.http.get("/console")
    assert r.status_code == 308 and r.headers["Location"] == "console/"


def test_the_hosted_ui_may_return_to_the_page_with_its_code(api: Api) -> None:
    assert api.client.http.get("/console/?code=abc123&state=xyz").status_code == 200


@pytest.mark.parametrize("name", [*SCRIPTS, "console.css"])
def test_each_file_is_served_with_its_content_type(api: Api, name: str) -> None:
    r = api.client.http.get(f"/console/{name}")
    assert r.status_code == 200
    want = "text/css; charset=utf-8" if name.endswith(".css") else "text/javascript; charset=utf-8"
    assert r.headers["Content-Type"] == want
    assert r.body.decode() == (FILES / name).read_text(encoding="utf-8")
    assert "Content-Security-Policy" in r.headers


@pytest.mark.parametrize("name", ["nope.js", "index.html", "..%2Fapi%2Fconsole.py", "app.py", ".env", "APP.JS"])
def test_anything_else_is_a_404_problem(api: Api, name: str) -> None:
    r = api.client.http.get(f"/console/{name}")
    assert r.status_code == 404
    assert r.headers["Content-Type"] == PROBLEM_JSON


def test_the_scripts_never_write_html_or_evaluate_text() -> None:
    for name in SCRIPTS:
        text = (FILES / name).read_text(encoding="utf-8")
        for banned in ("innerHTML", "outerHTML", "insertAdjacentHTML", "eval(", "new Function", "document.write"):
            assert banned not in text, f"{name} uses {banned}"
        assert "localStorage" not in text, f"{name}: the token stays in memory and sessionStorage"


def test_the_local_stage_signs_in_with_demo_users(api: Api) -> None:
    r = api.client.http.get("/console/config.json")
    assert r.status_code == 200
    cfg = json.loads(r.body)
    assert cfg["sign_in"] == "local" and cfg["roles_claim"] == "roles"


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_deployed_stages_sign_in_through_their_cognito_domain(stage: str) -> None:
    env = {**stage_environment(stage), "AWS_REGION": "cn-north-1"}
    cfg = load(env)
    assert cfg.console_cognito_domain and cfg.console_client_id
    csp = content_security_policy(cfg)
    assert f"connect-src 'self' https://{cfg.console_cognito_domain};" in csp


def test_a_console_id_token_names_the_console_client_and_is_accepted(api: Api) -> None:
    cfg = dataclasses.replace(settings(), console_client_id="console-client")
    token = api.token("demo-reviewer", ["reviewer"], audience="console-client")
    assert auth.verify(f"Bearer {token}", cfg).roles == {"reviewer"}
    with pytest.raises(Exception):  # noqa: B017 - another audience is still refused
        auth.verify(f"Bearer {api.token('x', ['reviewer'], audience='someone-else')}", cfg)


def test_the_console_is_not_part_of_the_api_document(api: Api) -> None:
    doc = json.loads(api.client.http.get("/v1/openapi.json").body)
    assert not [p for p in doc["paths"] if p.startswith("/console")]


def test_every_console_file_is_packaged_with_the_code() -> None:
    assert Path(FILES).parent.name == "chalicelib"
    assert {"index.html", "app.js", "api.js", "console.css"} <= {p.name for p in FILES.iterdir()}
