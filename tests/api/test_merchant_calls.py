"""Three DynamoDB calls for the merchants' and support's routes (issue 29): a product edit
reads the product, then its SKUs with their stock shards in one BatchGet, and writes its
Idempotency-Key's answer in its own transaction; list pages are one query."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.clock import clock
from chalicelib.models.catalog import Product
from chalicelib.models.payouts import PayoutAccount
from chalicelib.services import stock
from tests.conftest import Api, new_key
from tests.support.model_based import Faults
from tests.support.shopping import MERCHANT, create_product, dynamodb_calls

AS_MERCHANT: dict[str, Any] = {"as_": MERCHANT, "roles": ["merchant"]}


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    stock.forget()
    yield
    stock.forget()


def edit_body(product: dict[str, Any], skus: list[dict[str, Any]] | None = None, name: str = "新手机壳") -> Any:
    keep = ("sku_id", "attributes", "price_fen", "stock", "stock_shards")
    listed = skus if skus is not None else [{k: s[k] for k in keep} for s in product["skus"]]
    return {"name": name, "description": "硅胶", "skus": listed}


def put_product(api: Api, product: dict[str, Any], body: Any, idem: str | None = None) -> Any:
    return api.put(f"/v1/merchant/products/{product['product_id']}", body, **AS_MERCHANT, idem=idem or new_key())


def seen(api: Api, product: dict[str, Any]) -> Any:
    return api.get(f"/v1/products/{product['product_id']}", as_="u-browser").json


def test_a_product_edit_takes_three_calls_and_answers_what_a_read_shows(api: Api) -> None:
    product = create_product(api)
    body = edit_body(product)
    body["skus"][0] |= {"price_fen": 1990, "stock": 9}
    body["skus"].append({"attributes": {"颜色": "白色"}, "price_fen": 2590, "stock": 4, "stock_shards": 2})
    with dynamodb_calls() as calls:
        r = put_product(api, product, body)
    assert r.status_code == 200, r.json
    assert sum(calls.values()) <= 3, calls
    assert [(s["price_fen"], s["stock"], s["stock_shards"]) for s in r.json["skus"]] == [
        (1990, 9, 1),
        (3290, 1, 1),
        (2590, 4, 2),
    ]
    assert r.json == seen(api, product)


def test_editing_sharded_skus_takes_three_calls(api: Api) -> None:
    """Regression: a sharded SKU's shards were read after its SKU (one more call)."""
    skus = [
        {"attributes": {"颜色": "黑色"}, "price_fen": 2990, "stock": 10, "stock_shards": 4},
        {"attributes": {"颜色": "白色"}, "price_fen": 2990, "stock": 6, "stock_shards": 3},
        {"attributes": {"颜色": "红色"}, "price_fen": 2990, "stock": 2},
    ]
    product = create_product(api, skus=skus)
    body = edit_body(product)
    body["skus"][0] |= {"stock": 12, "stock_shards": 6}  # raised before a sale
    body["skus"][1] |= {"price_fen": 1990}  # the price copied onto every shard
    del body["skus"][2]  # withdrawn
    with dynamodb_calls() as calls:
        r = put_product(api, product, body)
    assert r.status_code == 200, r.json
    assert sum(calls.values()) <= 3, calls
    assert [(s["price_fen"], s["stock"], s["stock_shards"]) for s in r.json["skus"]] == [(2990, 12, 6), (1990, 6, 3)]
    assert r.json == seen(api, product)
    with dynamodb_calls() as calls:  # and again, from what that edit recorded
        again = put_product(api, product, edit_body(r.json, name="再改"))
    assert again.status_code == 200, again.json
    assert sum(calls.values()) <= 3, calls
    assert again.json == seen(api, product)


def test_a_product_that_records_no_shards_is_edited_from_its_skus(api: Api) -> None:
    """A product written before it recorded its SKUs' shards: they are read after the SKUs."""
    product = create_product(api, skus=[{"attributes": {}, "price_fen": 990, "stock": 9, "stock_shards": 3}])
    Product(product["product_id"]).update(actions=[Product.sku_shards.remove()])
    body = edit_body(product)
    body["skus"][0] |= {"stock": 7}
    r = put_product(api, product, body)
    assert r.status_code == 200, r.json
    assert (r.json["skus"][0]["stock"], r.json["skus"][0]["stock_shards"]) == (7, 3)
    assert r.json == seen(api, product)
    assert Product.get(product["product_id"]).sku_shards == {product["skus"][0]["sku_id"]: 3}  # recorded now


def test_a_lost_answer_on_a_product_edit_is_replayed(api: Api, faults: Faults) -> None:
    product = create_product(api)
    body, key = edit_body(product), new_key()
    body["skus"][0] |= {"stock": 8}
    faults.arm([(0, "lost_answer")], only="TransactWriteItems")
    first = put_product(api, product, body, idem=key)
    faults.enabled = False
    assert first.status_code == 503 and faults.injected["lost_answer"] == 1
    again = put_product(api, product, body, idem=key)
    assert again.status_code == 200, again.json
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json == seen(api, product)
    other = put_product(api, product, {**body, "name": "别的"}, idem=key)
    assert (other.status_code, other.json["code"]) == (422, "idempotency_key_reused")


def test_a_refused_product_edit_is_replayed_with_its_error(api: Api) -> None:
    product = create_product(api)
    body, key = edit_body(product), new_key()
    body["skus"][0] |= {"sku_id": "sku_not_mine"}
    first = put_product(api, product, body, idem=key)
    assert (first.status_code, first.json["code"]) == (422, "unknown_sku")
    again = put_product(api, product, body, idem=key)
    assert (again.status_code, again.json["code"]) == (422, "unknown_sku")
    assert again.headers.get("Idempotent-Replayed") == "true"


ACCOUNT = {"account_name": "杭州某某科技有限公司", "account_number": "6225880212343446", "bank": "招商银行"}


def test_setting_the_payout_account_is_one_transaction_that_keeps_when_it_was_first_set(api: Api) -> None:
    with dynamodb_calls() as calls:
        first = api.put("/v1/merchant/payout-account", ACCOUNT, **AS_MERCHANT, idem=new_key())
    assert first.status_code == 200, first.json
    assert sum(calls.values()) <= 3, calls
    created = PayoutAccount.get(MERCHANT).created_at
    clock.advance(86_400)
    with dynamodb_calls() as calls:
        second = api.put("/v1/merchant/payout-account", {**ACCOUNT, "bank": "工商银行"}, **AS_MERCHANT, idem=new_key())
    assert second.status_code == 200, second.json
    assert sum(calls.values()) <= 3, calls
    assert second.json == api.get("/v1/merchant/payout-account", **AS_MERCHANT).json
    assert (second.json["bank"], second.json["updated_at"] > first.json["updated_at"]) == ("工商银行", True)
    assert PayoutAccount.get(MERCHANT).created_at == created


def test_a_lost_answer_on_the_payout_account_is_replayed(api: Api, faults: Faults) -> None:
    key = new_key()
    faults.arm([(0, "lost_answer")], only="TransactWriteItems")
    first = api.put("/v1/merchant/payout-account", ACCOUNT, **AS_MERCHANT, idem=key)
    faults.enabled = False
    assert first.status_code == 503 and faults.injected["lost_answer"] == 1
    again = api.put("/v1/merchant/payout-account", ACCOUNT, **AS_MERCHANT, idem=key)
    assert again.status_code == 200, again.json
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json == api.get("/v1/merchant/payout-account", **AS_MERCHANT).json


@pytest.mark.parametrize("path", ["/v1/merchant/settlements", "/v1/merchant/payouts"])
def test_a_merchants_money_page_is_one_query(api: Api, path: str) -> None:
    """Regression: the payable beside the page was a query of the merchant's balances."""
    with dynamodb_calls() as calls:
        r = api.get(f"{path}?limit=5", **AS_MERCHANT)
    assert r.status_code == 200, r.json
    assert calls["Query"] <= 1 and sum(calls.values()) <= 3, calls
    assert r.json["payable_fen"] == 0
