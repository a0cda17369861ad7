"""What `make package` produced is fit to deploy. Run by `make infra-check` (part of
`make test`) after packaging; a plain pytest run skips it, having nothing packaged to read."""

from __future__ import annotations

import json
import os
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

PACKAGED = os.environ.get("PAYLATER_PACKAGED")
ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(not PACKAGED, reason="run by make infra-check, after make package")


@pytest.fixture(scope="module")
def sam() -> dict[str, Any]:
    assert PACKAGED
    data: dict[str, Any] = json.loads((ROOT / PACKAGED / "sam.json").read_text(encoding="utf-8"))
    return data


def _of_type(sam: dict[str, Any], type_: str) -> dict[str, Any]:
    return {k: v for k, v in sam["Resources"].items() if v["Type"] == type_}


def test_the_packaged_api_has_no_dev_routes(sam: dict[str, Any]) -> None:
    paths = sam["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["paths"]
    assert "/v1/health" in paths
    assert not [p for p in paths if p.startswith("/v1/dev")]
    assert "/v1/dev" not in json.dumps(sam)


def test_every_function_runs_under_its_own_generated_role(sam: dict[str, Any]) -> None:
    functions = _of_type(sam, "AWS::Serverless::Function")
    assert "APIHandler" in functions
    for name, fn in functions.items():
        props = fn["Properties"]
        assert props["Role"] == {"Fn::GetAtt": [f"{name}Role", "Arn"]}
        assert props["Tracing"] == "Active"
        assert props["FunctionName"].startswith(f"paylater-{os.environ['PAYLATER_STAGE']}-")
        for event in (props.get("Events") or {}).values():
            if event["Type"] == "SQS":
                assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert "set-per-function-by-scripts-infra-py" not in json.dumps(sam)


def test_prod_tables_and_queues_outlive_the_stack(sam: dict[str, Any]) -> None:
    if os.environ.get("PAYLATER_STAGE") != "prod":
        pytest.skip("retention is a prod rule")
    kept = {
        **_of_type(sam, "AWS::DynamoDB::Table"),
        **_of_type(sam, "AWS::SQS::Queue"),
        **_of_type(sam, "AWS::KMS::Key"),
    }
    assert kept
    for name, res in kept.items():
        assert res["DeletionPolicy"] == res["UpdateReplacePolicy"] == "Retain", name


def test_the_zip_ships_the_pinned_boto3_and_botocore_and_no_tests() -> None:
    assert PACKAGED
    with zipfile.ZipFile(ROOT / PACKAGED / "deployment.zip") as zf:
        names = zf.namelist()
    tops = {n.split("/")[0] for n in names}
    assert {"app.py", "chalicelib", "pynamodb", "botocore", "boto3"} <= tops
    assert not {"tests", "scripts", ".venv", "build"} & tops
    pins = dict(line.split("==") for line in (ROOT / "requirements.txt").read_text().splitlines() if "==" in line)
    assert f"botocore-{pins['botocore']}.dist-info" in tops
    assert f"boto3-{pins['boto3']}.dist-info" in tops


def test_the_zip_ships_the_bytecode_of_its_modules() -> None:
    """Lambda's task root is read-only: without it every cold start compiled what it imported."""
    assert PACKAGED
    with zipfile.ZipFile(ROOT / PACKAGED / "deployment.zip") as zf:
        names = set(zf.namelist())
    for module in (
        "app.py",
        "chalicelib/routes.py",
        "chalicelib/web/views.py",
        "botocore/session.py",
        "pydantic/main.py",
    ):
        folder, _, name = module.rpartition("/")
        pyc = f"{folder + '/' if folder else ''}__pycache__/{name[:-3]}.cpython-311.pyc"
        assert pyc in names, pyc


def test_our_checkov_checks_catch_an_unsafe_template() -> None:
    checkov = os.environ.get("CHECKOV")
    assert checkov, "make infra-check passes the checkov of .venv-checkov"
    out = subprocess.run(
        [
            checkov,
            "-f",
            str(ROOT / "tests" / "support" / "fixtures" / "unsafe_template.json"),
            "--framework",
            "cloudformation",
            "--skip-download",
            "--external-checks-dir",
            str(ROOT / "infra" / "checkov"),
            "--check",
            "CKV_PAYLATER_1,CKV_PAYLATER_2,CKV_PAYLATER_3",
            "-o",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 1, out.stderr[-2000:]
    failed = {r["check_id"] for r in json.loads(out.stdout)["results"]["failed_checks"]}
    assert failed == {"CKV_PAYLATER_1", "CKV_PAYLATER_2", "CKV_PAYLATER_3"}
