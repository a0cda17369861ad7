"""Fixtures: moto for AWS, the app behind chalice.test.Client, and users at each stage of
the story. Environment is set before anything from chalicelib is imported."""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

# --- environment first: PynamoDB reads table names when models are defined -------------
import moto  # noqa: F401  (import before any boto client is created)

from chalicelib.config import stage_environment

_KEY_DIR = tempfile.mkdtemp(prefix="paylater-test-")
for _name in list(os.environ):
    if _name.startswith("AWS_ENDPOINT_URL") or _name in ("AWS_PROFILE", "DYNAMODB_ENDPOINT", "SQS_ENDPOINT"):
        del os.environ[_name]
os.environ.update(stage_environment("local"))
os.environ.update(
    {
        "TABLE_PREFIX": "paylater-test",
        "LOCAL_JWT_KEY_FILE": os.path.join(_KEY_DIR, "jwt.pem"),
        "AWS_DEFAULT_REGION": "cn-north-1",
        "AWS_REGION": "cn-north-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "POWERTOOLS_METRICS_DISABLED": "true",
        # Cheap KDF in tests only; the stage value is what production uses.
        "PASSWORD_SCRYPT_N": "1024",
        # The clock is frozen: reconciliation looks up to `now` (the stage leaves 5 minutes).
        "RECONCILE_MARGIN_SECONDS": "0",
        # The clock is frozen: a cached merchant velocity would never expire (tests/api/test_risk.py sets it).
        "RISK_MERCHANT_CACHE_SECONDS": "0",
    }
)

import pytest  # noqa: E402
from chalice.test import Client  # noqa: E402
from moto import mock_aws  # noqa: E402

from chalicelib.clock import clock  # noqa: E402
from chalicelib.config import settings  # noqa: E402
from chalicelib.local import issuer  # noqa: E402
from chalicelib.local.resources import create_all, empty_all  # noqa: E402

T0 = datetime(2026, 11, 25, 8, 0, 0, tzinfo=UTC)
# Hand-checked valid resident ID numbers (GB 11643 check digit).
ADULT_ID = "11010519491231002X"
ADULT_ID_2 = "440524188001010014"


@pytest.fixture(scope="session")
def _moto() -> Iterator[None]:
    """One moto for the session: tables and queues are created once (creating ~25 tables
    per test cost about a second each); every test starts from them emptied."""
    with mock_aws():
        create_all()
        yield


def empty_everything() -> None:
    """Delete every item of every table and every queued message (tests may scan)."""
    empty_all()


@pytest.fixture(autouse=True)
def aws(_moto: None) -> Iterator[None]:
    empty_everything()
    clock.freeze(T0)
    yield
    clock.reset()


@pytest.fixture
def faults() -> Iterator[Any]:
    """Store faults armed by the test (`faults.arm([(call_index, kind)])`, see
    tests/support/model_based.py `Faults`): none until armed."""
    from tests.support.model_based import Faults

    f = Faults(span=0)
    f.install()
    try:
        yield f
    finally:
        f.remove()


@pytest.fixture
def rules() -> Iterator[Any]:
    """`rules(name=value, ...)` changes stage rules for one test, as a new deployment would."""
    import dataclasses

    cfg = settings()
    original = cfg.rules

    def change(**values: Any) -> None:
        object.__setattr__(cfg, "rules", dataclasses.replace(cfg.rules, **values))

    yield change
    object.__setattr__(cfg, "rules", original)


@pytest.fixture(scope="session")
def app_module() -> Any:
    import app

    return app


class Api:
    """A thin JSON client over chalice.test.Client."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def token(self, sub: str, roles: list[str] | None = None, **kw: Any) -> str:
        cfg = settings()
        assert cfg.local_jwt_key_file
        return issuer.mint(
            cfg.local_jwt_key_file,
            sub=sub,
            roles=roles or ["consumer"],
            issuer=kw.pop("issuer", cfg.jwt_issuer),
            audience=kw.pop("audience", cfg.jwt_audience),
            roles_claim=cfg.jwt_roles_claim,
            now=kw.pop("now", clock.now()),
            **kw,
        )

    def call(
        self,
        method: str,
        path: str,
        *,
        as_: str | None = None,
        roles: list[str] | None = None,
        json_body: Any = None,
        raw: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        idem: str | None = None,
    ) -> Any:
        h = {"Content-Type": "application/json"}
        if as_ is not None:
            h["Authorization"] = f"Bearer {self.token(as_, roles)}"
        if idem is not None:
            h["Idempotency-Key"] = idem
        h.update(headers or {})
        body: bytes | str = raw if raw is not None else (json.dumps(json_body) if json_body is not None else b"")
        resp = self.client.http.request(method=method, path=path, headers=h, body=body)
        resp.json = json.loads(resp.body) if resp.body else None
        return resp

    def get(self, path: str, **kw: Any) -> Any:
        return self.call("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.call("POST", path, json_body=body if body is not None else {}, **kw)

    def put(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.call("PUT", path, json_body=body, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.call("DELETE", path, **kw)


@pytest.fixture
def api(app_module: Any) -> Iterator[Api]:
    with Client(app_module.app) as client:
        yield Api(client)


def new_key() -> str:
    return f"key-{uuid.uuid4().hex}"


@pytest.fixture
def verified_user(api: Api) -> str:
    uid = "u-" + uuid.uuid4().hex[:8]
    r = api.post("/v1/me/identity", {"real_name": "张三", "id_number": ADULT_ID}, as_=uid)
    assert r.status_code == 200, r.json
    return uid


@pytest.fixture
def activated_user(api: Api, verified_user: str) -> str:
    uid = verified_user
    assert api.post("/v1/me/bank-cards", {"card_number": "6222020200112233446"}, as_=uid).status_code == 201
    assert api.put("/v1/me/payment-password", {"password": "135790"}, as_=uid).status_code == 200
    r = api.post("/v1/bnpl/activation", {"agreement_version": settings().rules.agreement_version}, as_=uid)
    assert r.status_code == 201, r.json
    return uid


# --- payment channels: keys generated for this test session (tests/support/channel_keys.py) -----
from tests.support import channel_keys  # noqa: E402

channel_keys.install()
