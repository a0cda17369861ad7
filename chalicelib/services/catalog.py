"""The catalog: merchants create and edit products with SKUs; everyone browses them.

Prices and stock are the server's: checkout reads them here, never from the client.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist

from .. import errors, pagination
from ..clock import iso
from ..db import Tx
from ..errors import FieldError
from ..models.catalog import FEED_ALL, Product, Sku, StockShard
from . import installments
from . import stock as stock_shards


@dataclass(frozen=True)
class SkuSpec:
    attributes: dict[str, str]
    price_fen: int
    stock: int
    sku_id: str | None = None
    stock_shards: int | None = None  # None: as it is (1 for a new SKU)


@dataclass(frozen=True)
class ProductPage:
    items: list[Product]
    next_cursor: str | None


@dataclass
class ProductDetail:
    product: Product
    skus: list[Sku] = field(default_factory=list)


def new_product_id() -> str:
    return "p_" + uuid.uuid4().hex[:20]


def new_sku_id() -> str:
    return "sku_" + uuid.uuid4().hex[:20]


def review_average(product: Product) -> float | None:
    count = int(product.review_count or 0)
    return round(int(product.rating_sum or 0) / count, 1) if count else None


def product_not_found() -> errors.DomainError:
    return errors.not_found("product_not_found", "no such product")


NOT_FOUND_ERRORS = errors.raises(not_found=["product_not_found"])
CREATE_ERRORS = errors.raises(unprocessable=["duplicate_sku", "unknown_plan"]) | stock_shards.SHARD_ERRORS
# A product or SKU id given (the local seed gives its own) that exists already; the API gives new ids.
EXISTS_ERRORS = errors.raises(conflict=["product_exists"])


def check_distinct(specs: Sequence[SkuSpec]) -> None:
    seen: set[tuple[tuple[str, str], ...]] = set()
    for i, spec in enumerate(specs):
        key = tuple(sorted(spec.attributes.items()))
        if key in seen:
            raise errors.unprocessable(
                "duplicate_sku",
                "two SKUs have the same attributes",
                [FieldError(f"skus.{i}.attributes", "same as another SKU")],
            )
        seen.add(key)


def interest_free(parts: Sequence[int]) -> list[int]:
    """免息 plans must be plans PayLater offers (stage setting `installment_plans`)."""
    offered = installments.plans.offered()
    for i, n in enumerate(parts):
        if n not in offered:
            raise errors.unprocessable(
                "unknown_plan",
                f"PayLater offers installments of {sorted(offered)} parts",
                [FieldError(f"interest_free_parts.{i}", "not an offered plan")],
            )
    return sorted(set(parts))


def new_sku(spec: SkuSpec, product_id: str, merchant_id: str, name: str, at: str) -> tuple[Sku, list[StockShard]]:
    """A SKU as first written (its id given by the spec or new), and its shards beyond the first."""
    n = spec.stock_shards or 1
    split = stock_shards.shares(spec.stock, n)
    sku = Sku(
        spec.sku_id or new_sku_id(),
        product_id=product_id,
        merchant_id=merchant_id,
        product_name=name,
        attributes=dict(spec.attributes),
        price_fen=spec.price_fen,
        stock=split[0],
        stock_shards=n,
        active=True,
        created_at=at,
        updated_at=at,
    )
    return sku, [new_shard(sku.sku_id, k, split[k], spec.price_fen) for k in range(1, n)]


def new_shard(sku_id: str, k: int, units: int, price_fen: int) -> StockShard:
    return StockShard(stock_shards.shard_key(sku_id, k), stock=units, price_fen=price_fen, active=True)


def sharded_counts(skus: Iterable[Sku]) -> dict[str, int]:
    """What a product records of its SKUs' shards (`Product.sku_shards`): N of each with N > 1."""
    return {s.sku_id: stock_shards.shards_of(s) for s in skus if stock_shards.shards_of(s) > 1}


def check_shard_total(specs: Sequence[SkuSpec], withdrawn: int = 0) -> None:
    """A product, its SKUs and all their shards fit in one transaction (100 items)."""
    total = 1 + withdrawn
    for i, spec in enumerate(specs):
        total += spec.stock_shards or 1
        if total > 100:
            raise stock_shards.too_many_shards(i)


def create_product(
    merchant_id: str,
    name: str,
    description: str,
    skus: Sequence[SkuSpec],
    now: datetime,
    *,
    product_id: str | None = None,
    interest_free_parts: Sequence[int] = (),
) -> ProductDetail:
    """A new product and its SKUs, written together; each SKU gains a `sku_id`."""
    check_distinct(skus)
    check_shard_total(skus)
    free_parts = interest_free(interest_free_parts)
    pid = product_id or new_product_id()
    at = iso(now)
    made = [new_sku(spec, pid, merchant_id, name, at) for spec in skus]
    sku_items = [sku for sku, _ in made]
    product = Product(
        pid,
        merchant_id=merchant_id,
        name=name,
        description=description,
        sku_ids=[s.sku_id for s in sku_items],
        price_from_fen=min(s.price_fen for s in sku_items),
        feed=FEED_ALL,
        created_key=f"{at}#{pid}",
        created_at=at,
        updated_at=at,
        review_count=0,
        rating_sum=0,
        interest_free_parts=free_parts,
        sku_shards=sharded_counts(sku_items),
    )
    exists = errors.conflict("product_exists", "a product with this id already exists")
    tx = Tx()
    tx.save(product, condition=Product.product_id.does_not_exist(), on_fail=exists)
    for sku, extra in made:
        tx.save(sku, condition=Sku.sku_id.does_not_exist(), on_fail=exists)
        for shard in extra:
            tx.save(shard, condition=StockShard.sku_id.does_not_exist(), on_fail=exists)
    tx.commit()
    for sku, extra in made:  # shown with their whole stock
        sku.stock = int(sku.stock) + sum(int(x.stock) for x in extra)
    return ProductDetail(product, sku_items)


def get_product_item(product_id: str, *, consistent: bool = False) -> Product:
    try:
        return Product.get(product_id, consistent_read=consistent)
    except DoesNotExist as exc:
        raise product_not_found() from exc


def skus_of(sku_ids: Iterable[str], *, consistent: bool = False) -> list[Sku]:
    ids = list(sku_ids)
    found = {s.sku_id: s for s in Sku.batch_get(ids, consistent_read=consistent)} if ids else {}
    return [found[i] for i in ids if i in found]


def get_product(product_id: str) -> ProductDetail:
    """A product and its active SKUs, each with its whole stock (the sum of its shards)."""
    product = get_product_item(product_id)
    return ProductDetail(product, stock_shards.with_totals([s for s in skus_of(product.sku_ids) if s.active]))


def get_skus(sku_ids: Iterable[str]) -> dict[str, Sku]:
    """SKUs by id, strongly consistent, each with its whole stock (the sum of its shards)."""
    return {s.sku_id: s for s in stock_shards.with_totals(skus_of(sku_ids, consistent=True), consistent=True)}


def get_sku(sku_id: str) -> Sku | None:
    try:
        sku = Sku.get(sku_id, consistent_read=True)
    except DoesNotExist:
        return None
    return stock_shards.with_totals([sku], consistent=True)[0]


def list_products(merchant_id: str | None, limit: int, cursor: str | None) -> ProductPage:
    """Newest first; all products, or one merchant's."""
    scope = f"products:{merchant_id or '*'}"
    last_key: Any = pagination.decode(cursor, scope)
    if merchant_id:
        result = Product.by_merchant.query(
            merchant_id, scan_index_forward=False, limit=limit, page_size=limit, last_evaluated_key=last_key
        )
    else:
        result = Product.by_feed.query(
            FEED_ALL, scan_index_forward=False, limit=limit, page_size=limit, last_evaluated_key=last_key
        )
    items = list(result)
    return ProductPage(items, pagination.encode(result.last_evaluated_key, scope))
