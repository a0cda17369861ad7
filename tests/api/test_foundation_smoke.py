from tests.conftest import Api


def test_health_answers(api: Api) -> None:
    r = api.get("/v1/health")
    assert r.status_code == 200
    assert r.json["status"] == "ok"


def test_activation_story(api: Api, activated_user: str) -> None:
    r = api.get("/v1/wallet", as_=activated_user)
    assert r.status_code == 200, r.json
    assert r.json["credit"] == {"limit_fen": 50000, "used_fen": 0, "available_fen": 50000}
    me = api.get("/v1/me", as_=activated_user).json
    assert me["bnpl"]["status"] == "active"
    assert me["identity"]["id_number_masked"] == "1****************X"
