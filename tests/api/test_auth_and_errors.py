"""Auth (401/403/404) and the problem+json contract for bad input."""

from __future__ import annotations

import json
from datetime import timedelta

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from chalicelib.clock import clock
from chalicelib.config import settings
from chalicelib.errors import Unauthorized
from tests.conftest import Api


def _assert_problem(r: object, status: int, code: str) -> dict:
    assert r.status_code == status, r.body  # type: ignore[attr-defined]
    assert r.headers["Content-Type"] == "application/problem+json"  # type: ignore[attr-defined]
    doc = r.json  # type: ignore[attr-defined]
    assert doc["code"] == code and doc["status"] == status
    assert {"type", "title", "detail"} <= set(doc)
    return doc


def test_no_token_is_401(api: Api) -> None:
    _assert_problem(api.get("/v1/me"), 401, "token_missing")


def test_garbage_token_is_401(api: Api) -> None:
    _assert_problem(api.get("/v1/me", headers={"Authorization": "Bearer not.a.jwt"}), 401, "token_invalid")


def test_expired_token_is_401(api: Api) -> None:
    token = api.token("u1", now=clock.now() - timedelta(days=365))
    _assert_problem(api.get("/v1/me", headers={"Authorization": f"Bearer {token}"}), 401, "token_expired")


def test_a_token_seen_before_still_expires_on_the_service_clock(api: Api) -> None:
    bearer = {"Authorization": f"Bearer {api.token('u-seen', lifetime=timedelta(hours=1))}"}
    assert api.get("/v1/me", headers=bearer).status_code == 200
    assert api.get("/v1/me", headers=bearer).status_code == 200  # remembered as verified
    clock.advance(3600 + 120)
    _assert_problem(api.get("/v1/me", headers=bearer), 401, "token_expired")


def test_a_token_seen_before_is_refused_once_its_account_is_closed(api: Api) -> None:
    bearer = {"Authorization": f"Bearer {api.token('u-closes')}"}
    assert api.get("/v1/me", headers=bearer).status_code == 200
    assert api.post("/v1/me/closure", headers=bearer).status_code == 200
    _assert_problem(api.get("/v1/me", headers=bearer), 401, "account_closed")


def test_a_remembered_token_vouches_for_no_other_token_or_settings(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    from chalicelib import auth

    monkeypatch.setattr(auth, "VERIFIED_CACHE_SIZE", 2)
    token = api.token("u-once")
    assert api.get("/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    head, payload, signature = token.split(".")
    altered = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    for bad in (f"{head}.{payload}.{altered}", f"{head}.{payload}.", f"{head}.{payload}.{signature}x"):
        _assert_problem(api.get("/v1/me", headers={"Authorization": f"Bearer {bad}"}), 401, "token_invalid")
    # The same token under settings that expect another audience is verified afresh, and refused.
    elsewhere = dataclasses.replace(settings(), jwt_audience="someone-else", console_client_id=None)
    with pytest.raises(Unauthorized) as refused:
        auth.verify(f"Bearer {token}", elsewhere)
    assert refused.value.code == "token_invalid"
    # Bounded: the oldest entries leave as new tokens arrive.
    for sub in ("u-a", "u-b", "u-c"):
        auth.verify(f"Bearer {api.token(sub)}")
    assert len(auth._verified) <= 2


def test_token_signed_by_another_key_is_401(api: Api) -> None:
    cfg = settings()
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(clock.now().timestamp())
    forged = jwt.encode(
        {
            "sub": "u1",
            "roles": ["consumer"],
            "iss": cfg.jwt_issuer,
            "aud": cfg.jwt_audience,
            "iat": now,
            "exp": now + 600,
        },
        other,
        algorithm="RS256",
    )
    _assert_problem(api.get("/v1/me", headers={"Authorization": f"Bearer {forged}"}), 401, "token_invalid")


def test_unsigned_token_is_401(api: Api) -> None:
    cfg = settings()
    now = int(clock.now().timestamp())
    token = jwt.encode(
        {
            "sub": "u1",
            "roles": ["consumer"],
            "iss": cfg.jwt_issuer,
            "aud": cfg.jwt_audience,
            "iat": now,
            "exp": now + 600,
        },
        key=None,
        algorithm="none",
    )
    _assert_problem(api.get("/v1/me", headers={"Authorization": f"Bearer {token}"}), 401, "token_invalid")


def test_a_token_not_valid_before_a_future_time_is_401(api: Api) -> None:
    from chalicelib.local import issuer

    cfg = settings()
    assert cfg.local_jwt_key_file
    now = int(clock.now().timestamp())
    claims = {"sub": "u1", "roles": ["consumer"], "iss": cfg.jwt_issuer, "aud": cfg.jwt_audience, "iat": now}
    key = issuer._private_key(cfg.local_jwt_key_file)

    def token(**extra: object) -> str:
        return jwt.encode({**claims, "exp": now + 7200, **extra}, key, algorithm="RS256", headers={"kid": "local"})

    for nbf in (now + 3600, "soon"):
        r = api.get("/v1/me", headers={"Authorization": f"Bearer {token(nbf=nbf)}"})
        _assert_problem(r, 401, "token_invalid")
    assert api.get("/v1/me", headers={"Authorization": f"Bearer {token(nbf=now - 60)}"}).status_code == 200


def test_wrong_audience_is_401(api: Api) -> None:
    token = api.token("u1", audience="someone-else")
    _assert_problem(api.get("/v1/me", headers={"Authorization": f"Bearer {token}"}), 401, "token_invalid")


def test_merchant_cannot_use_consumer_routes(api: Api) -> None:
    r = api.post("/v1/me/bank-cards", {"card_number": "6222020200112233446"}, as_="m1", roles=["merchant"])
    _assert_problem(r, 403, "forbidden_role")


def test_another_users_card_is_404(api: Api) -> None:
    card = api.post("/v1/me/bank-cards", {"card_number": "6222020200112233446"}, as_="alice").json
    _assert_problem(api.delete(f"/v1/me/bank-cards/{card['card_id']}", as_="bob"), 404, "card_not_found")
    assert len(api.get("/v1/me/bank-cards", as_="alice").json["items"]) == 1


def test_malformed_json_is_400(api: Api) -> None:
    r = api.call("POST", "/v1/me/identity", as_="u1", raw=b'{"real_name": ')
    _assert_problem(r, 400, "malformed_json")


def test_unknown_field_is_400_with_field_list(api: Api) -> None:
    r = api.post("/v1/me/identity", {"real_name": "张三", "id_number": "11010519491231002X", "admin": True}, as_="u1")
    doc = _assert_problem(r, 400, "validation_failed")
    assert {"field": "admin", "message": "Extra inputs are not permitted"} in doc["errors"]


@pytest.mark.parametrize("amount", [1.5, "100", True, None, [1]])
def test_wrong_types_are_400_never_coerced(api: Api, amount: object) -> None:
    r = api.post("/v1/dev/clock", {"advance_seconds": amount})
    doc = _assert_problem(r, 400, "validation_failed")
    assert doc["errors"][0]["field"] == "advance_seconds"


def test_nan_is_not_json(api: Api) -> None:
    _assert_problem(api.call("POST", "/v1/dev/clock", raw=b'{"advance_seconds": NaN}'), 400, "malformed_json")


def test_oversize_body_is_413(api: Api) -> None:
    big = json.dumps({"real_name": "x" * (settings().rules.max_body_bytes + 1), "id_number": "1"})
    _assert_problem(api.call("POST", "/v1/me/identity", as_="u1", raw=big), 413, "payload_too_large")


def test_wrong_content_type_is_415(api: Api) -> None:
    r = api.call("POST", "/v1/me/identity", as_="u1", raw=b"a=b", headers={"Content-Type": "text/plain"})
    _assert_problem(r, 415, "unsupported_media_type")


def test_unknown_query_parameter_is_400(api: Api) -> None:
    _assert_problem(api.get("/v1/me?debug=1", as_="u1"), 400, "validation_failed")


def test_odd_path_ids_are_404(api: Api) -> None:
    _assert_problem(api.delete("/v1/me/bank-cards/%00%27--", as_="u1"), 404, "not_found")


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=300))
def test_no_body_of_any_shape_is_a_500(api: Api, body: bytes) -> None:
    for path in ("/v1/me/identity", "/v1/me/bank-cards", "/v1/bnpl/activation"):
        r = api.call("POST", path, as_="fuzz", raw=body)
        assert r.status_code < 500, (path, body, r.body)
        assert r.headers["Content-Type"] in ("application/json", "application/problem+json")


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    doc=st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
        lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
        max_leaves=12,
    )
)
def test_no_json_document_is_a_500(api: Api, doc: object) -> None:
    r = api.call("PUT", "/v1/me/payment-password", as_="fuzz", raw=json.dumps(doc))
    assert r.status_code < 500, (doc, r.body)


def test_openapi_describes_every_route_with_auth_and_errors(api: Api, app_module: object) -> None:
    doc = api.get("/v1/openapi.json").json
    assert doc["openapi"].startswith("3.1")
    routes = app_module.app.routes  # type: ignore[attr-defined]
    # Every API route; the web console's files (/console) are not API.
    api_routes = {path: methods for path, methods in routes.items() if path.startswith("/v1/")}
    assert set(api_routes) | {"/console", "/console/config.json", "/console/{asset}"} == set(routes)
    for path, methods in api_routes.items():
        for method in methods:
            op = doc["paths"][path][method.lower()]
            assert "400" in op["responses"] and "500" in op["responses"]
            if op["security"]:
                assert {"401", "403"} <= set(op["responses"])
    activation = doc["paths"]["/v1/bnpl/activation"]["post"]
    assert activation["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("ActivationIn")
    assert "not_eligible" in activation["responses"]["422"]["description"]
