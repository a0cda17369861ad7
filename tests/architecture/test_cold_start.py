"""A request loads what its route needs (`make bench` times it, section `imports`): in a
fresh process, `GET /v1/health` loads neither token verification nor the store, and an
order read does not load the checkout service. Which modules load, never how long."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from botocore.loaders import Loader
from botocore.session import get_session

from chalicelib.config import stage_environment
from scripts.bench import _HEALTH_EVENT, _first_request

ROOT = Path(__file__).resolve().parents[2]


def _loaded_after(code: str) -> set[str]:
    env = {**os.environ, **stage_environment("local"), "PYTHONPATH": str(ROOT), "LOG_LEVEL": "WARNING"}
    probe = f"{code}\nimport json, sys; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.splitlines()[-1]))


def test_the_first_health_check_loads_no_token_verification_and_no_store() -> None:
    loaded = _loaded_after(_first_request(_HEALTH_EVENT))
    assert "chalicelib.api.system" in loaded  # the request was answered by its router
    # (Powertools imports the `botocore` package itself, for its user agent: not its clients.)
    for heavy in ("jwt", "cryptography", "pynamodb", "botocore.session", "boto3", "chalicelib.db", "chalicelib.auth"):
        assert heavy not in loaded, heavy


def test_the_collector_is_back_on_after_a_routes_first_request() -> None:
    """Issue 29: the first request runs with the garbage collector paused (`lazy.collector_paused`)."""
    loaded = _loaded_after(f"{_first_request(_HEALTH_EVENT)}\nimport gc\nassert gc.isenabled()")
    assert "chalicelib.api.system" in loaded


def test_an_order_read_does_not_load_the_checkout_service() -> None:
    loaded = _loaded_after("import app, chalicelib.api.orders")
    assert "chalicelib.services.orders" in loaded
    for heavy in ("chalicelib.services.checkout", "chalicelib.services.payments", "chalicelib.services.channel_trades"):
        assert heavy not in loaded, heavy
    # Issue 29: nor what a change of status writes with (loaded by the first cancellation).
    for writer in (
        "chalicelib.ledger",
        "chalicelib.timers",
        "chalicelib.services.webhooks",
        "chalicelib.services.installments",
    ):
        assert writer not in loaded, writer


def test_the_store_session_reads_dynamodb_models_only_and_into_plain_dicts() -> None:
    """Issue 29: botocore listed and stat'ed every service's folder (~440) before loading the
    DynamoDB model, and parsed its model files into OrderedDicts (the endpoints file is 1.2 MB)."""
    from chalicelib import db

    loader = db._thread_session().get_component("data_loader")
    assert loader.list_available_services("service-2") == ["dynamodb"]
    assert type(loader.load_service_model("dynamodb", "service-2")) is dict
    assert type(loader.load_data("endpoints")) is dict


def _botocores_endpoints_of_dynamodb() -> dict[str, Any]:
    full = json.loads((Path(Loader.BUILTIN_DATA_PATH) / "endpoints.json").read_text(encoding="utf-8"))
    partitions = [{**p, "services": {"dynamodb": p["services"]["dynamodb"]}} for p in full["partitions"]]
    return {**full, "partitions": partitions}


def test_the_stores_endpoints_file_is_botocores_for_dynamodb() -> None:
    """Issue 29: the store's session reads DynamoDB's endpoints (10 KB), not every service's
    (1.2 MB). After a botocore upgrade, rewrite the file with PAYLATER_UPDATE_ENDPOINTS=1."""
    from chalicelib import db

    expected = _botocores_endpoints_of_dynamodb()
    path = Path(db.DYNAMODB_ENDPOINTS)
    if os.environ.get("PAYLATER_UPDATE_ENDPOINTS"):
        path.write_text(json.dumps(expected, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    assert json.loads(path.read_text(encoding="utf-8")) == expected, "run it again with PAYLATER_UPDATE_ENDPOINTS=1"
    session_loader = db._thread_session().get_component("data_loader")
    # a loader of its own: the session's caches the data, which botocore's clients may edit
    loaded, where = type(session_loader)(file_loader=session_loader.file_loader).load_data_with_path("endpoints")
    assert loaded == expected
    assert where.startswith(Loader.BUILTIN_DATA_PATH)


@pytest.mark.parametrize("region", ["cn-north-1", "cn-northwest-1", "us-east-1", "us-gov-west-1", "eu-west-1"])
@pytest.mark.parametrize("fips", [False, True])
def test_a_store_client_resolves_its_endpoint_as_botocore_does(region: str, fips: bool) -> None:
    from chalicelib import db

    def resolved(session: Any) -> tuple[str, str, str, str]:
        client = session.create_client(
            "dynamodb",
            region_name=region,
            aws_access_key_id="k",
            aws_secret_access_key="s",
            config=Config(use_fips_endpoint=fips),
        )
        signer = client._request_signer
        return client.meta.endpoint_url, client.meta.partition, signer.region_name, signer.signing_name

    assert resolved(db._thread_session()) == resolved(get_session())
