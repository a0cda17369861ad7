"""The catalog: merchants create and edit products with SKUs; everyone browses them.

Prices and stock are the server's: checkout reads them here, never from the client.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
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
UPDATE_ERRORS = (
    NOT_FOUND_ERRORS
    | CREATE_ERRORS
    | errors.raises(conflict=["state_changed"], unprocessable=["unknown_sku"])
    | stock_shards.RESHARD_ERRORS
)
# A product or SKU id given (the local seed gives its own) that exists already; the API gives new ids.
EXISTS_ERRORS = errors.raises(conflict=["product_exists"])


def _check_distinct(specs: Sequence[SkuSpec]) -> None:
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


def _interest_free(parts: Sequence[int]) -> list[int]:
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


def _new_sku(spec: SkuSpec, product_id: str, merchant_id: str, name: str, at: str) -> tuple[Sku, list[StockShard]]:
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
    return sku, [_shard(sku.sku_id, k, split[k], spec.price_fen) for k in range(1, n)]


def _shard(sku_id: str, k: int, units: int, price_fen: int) -> StockShard:
    return StockShard(stock_shards.shard_key(sku_id, k), stock=units, price_fen=price_fen, active=True)


def _check_shard_total(specs: Sequence[SkuSpec], withdrawn: int = 0) -> None:
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
    _check_distinct(skus)
    _check_shard_total(skus)
    free_parts = _interest_free(interest_free_parts)
    pid = product_id or new_product_id()
    at = iso(now)
    made = [_new_sku(spec, pid, merchant_id, name, at) for spec in skus]
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


def update_product(
    merchant_id: str,
    product_id: str,
    name: str,
    description: str,
    skus: Sequence[SkuSpec],
    now: datetime,
    *,
    interest_free_parts: Sequence[int] = (),
) -> ProductDetail:
    """Replace a product's details: listed SKUs are changed or added, unlisted ones withdrawn.

    A SKU's stock is set to the merchant's count only if no checkout moved it since it was
    read (otherwise 409 `state_changed`: reload and retry). A sharded SKU's count is spread
    over its shards (`stock_shards`, which only rises) in the same transaction; its shards
    are left alone when its price, count and shards are unchanged.
    """
    product = _get_product(product_id, consistent=True)
    if product.merchant_id != merchant_id:
        raise product_not_found()
    _check_distinct(skus)
    free_parts = _interest_free(interest_free_parts)
    current = _current_skus(product, skus)
    shards = stock_shards.read_shards(current.values(), consistent=True)
    at = iso(now)
    changed = errors.state_changed("the product changed meanwhile; reload and retry")
    tx = Tx()
    kept: list[Sku] = []
    for spec in skus:
        if spec.sku_id is None:
            sku, extra = _new_sku(spec, product_id, merchant_id, name, at)
            tx.save(sku, condition=Sku.sku_id.does_not_exist(), on_fail=changed)
            for shard in extra:
                tx.save(shard, condition=StockShard.sku_id.does_not_exist(), on_fail=changed)
        elif max(spec.stock_shards or 1, stock_shards.shards_of(current[spec.sku_id])) > 1:
            sku = current[spec.sku_id]
            _edit_sharded(tx, sku, spec, shards.get(sku.sku_id, []), name, at, changed)
        else:
            sku = current[spec.sku_id]
            _edit_plain(tx, sku, spec, product_id, name, at, changed)
        kept.append(sku)
    kept_ids = {s.sku_id for s in kept}
    for sku_id, sku in current.items():
        if sku_id not in kept_ids:
            tx.update(sku, [Sku.active.set(False), Sku.updated_at.set(at)], condition=Sku.product_id == product_id)
            for k in range(1, stock_shards.shards_of(sku)):  # a shard refuses takes once withdrawn
                tx.update(StockShard(stock_shards.shard_key(sku_id, k)), [StockShard.active.set(False)])
    tx.update(
        product,
        [
            Product.name.set(name),
            Product.description.set(description),
            Product.sku_ids.set([s.sku_id for s in kept]),
            Product.price_from_fen.set(min(s.price_fen for s in kept)),
            Product.interest_free_parts.set(free_parts),
            Product.updated_at.set(at),
        ],
        condition=Product.updated_at == product.updated_at,
        on_fail=changed,
    )
    tx.commit()
    for sku_id in current:
        stock_shards.forget(sku_id)
    return get_product(product_id)


def _current_skus(product: Product, skus: Sequence[SkuSpec]) -> dict[str, Sku]:
    """The product's SKUs as read (consistent), once every listed SKU is one of them, no SKU's
    shards fall and the shards in all stay within the product's bound."""
    current = {s.sku_id: s for s in _skus_of(product.sku_ids, consistent=True)}
    for i, spec in enumerate(skus):
        if spec.sku_id is not None and spec.sku_id not in current:
            raise errors.unprocessable(
                "unknown_sku", "this SKU is not one of the product's", [FieldError(f"skus.{i}.sku_id", "unknown")]
            )
        was = stock_shards.shards_of(current[spec.sku_id]) if spec.sku_id else 1
        if (spec.stock_shards or was) < was:
            raise stock_shards.shards_lowered(i, was)
    listed = {spec.sku_id for spec in skus}
    withdrawn = sum(stock_shards.shards_of(s) for sku_id, s in current.items() if sku_id not in listed)
    _check_shard_total(
        [replace(spec, stock_shards=spec.stock_shards or _shards(current, spec)) for spec in skus], withdrawn
    )
    return current


def _edit_plain(
    tx: Tx, sku: Sku, spec: SkuSpec, product_id: str, name: str, at: str, changed: errors.DomainError
) -> None:
    """Edit an unsharded SKU: its count is set only if no checkout moved it since it was read."""
    tx.update(
        sku,
        [
            Sku.product_name.set(name),
            Sku.attributes.set(dict(spec.attributes)),
            Sku.price_fen.set(spec.price_fen),
            Sku.stock.set(spec.stock),
            Sku.active.set(True),
            Sku.updated_at.set(at),
        ],
        condition=(Sku.stock == sku.stock) & (Sku.product_id == product_id),
        on_fail=changed,
    )
    sku.product_name, sku.attributes, sku.price_fen, sku.stock = name, dict(spec.attributes), spec.price_fen, spec.stock


def _shards(current: dict[str, Sku], spec: SkuSpec) -> int:
    return stock_shards.shards_of(current[spec.sku_id]) if spec.sku_id else 1


def _edit_sharded(
    tx: Tx,
    sku: Sku,
    spec: SkuSpec,
    shards: list[StockShard | None],
    name: str,
    at: str,
    changed: errors.DomainError,
) -> None:
    """Edit a sharded SKU (or shard one now): the merchant's count spread over its shards,
    each conditioned on the stock read (no checkout moved it meanwhile); or, when price,
    count and shards are as they are, the SKU item's words alone (a sale goes on)."""
    was = stock_shards.shards_of(sku)
    n = spec.stock_shards or was
    old = [int(sku.stock), *(int(x.stock) if x is not None else 0 for x in shards)]
    words = [
        Sku.product_name.set(name),
        Sku.attributes.set(dict(spec.attributes)),
        Sku.price_fen.set(spec.price_fen),
        Sku.active.set(True),
        Sku.stock_shards.set(n),
        Sku.updated_at.set(at),
    ]
    if n == was and spec.price_fen == int(sku.price_fen) and spec.stock == sum(old) and sku.active:
        tx.update(sku, words, condition=Sku.sku_id.exists(), on_fail=changed)
    else:
        split = stock_shards.shares(spec.stock, n)
        tx.update(sku, [*words, Sku.stock.set(split[0])], condition=Sku.stock == old[0], on_fail=changed)
        for k in range(1, n):
            if k < was:
                tx.update(
                    StockShard(stock_shards.shard_key(sku.sku_id, k)),
                    [
                        StockShard.stock.set(split[k]),
                        StockShard.price_fen.set(spec.price_fen),
                        StockShard.active.set(True),
                    ],
                    condition=StockShard.stock == old[k],
                    on_fail=changed,
                )
            else:
                tx.save(
                    _shard(sku.sku_id, k, split[k], spec.price_fen),
                    condition=StockShard.sku_id.does_not_exist(),
                    on_fail=changed,
                )
    sku.product_name, sku.attributes, sku.price_fen, sku.stock = name, dict(spec.attributes), spec.price_fen, spec.stock
    sku.stock_shards = n


def _get_product(product_id: str, *, consistent: bool = False) -> Product:
    try:
        return Product.get(product_id, consistent_read=consistent)
    except DoesNotExist as exc:
        raise product_not_found() from exc


def _skus_of(sku_ids: Iterable[str], *, consistent: bool = False) -> list[Sku]:
    ids = list(sku_ids)
    found = {s.sku_id: s for s in Sku.batch_get(ids, consistent_read=consistent)} if ids else {}
    return [found[i] for i in ids if i in found]


def get_product(product_id: str) -> ProductDetail:
    """A product and its active SKUs, each with its whole stock (the sum of its shards)."""
    product = _get_product(product_id)
    return ProductDetail(product, stock_shards.with_totals([s for s in _skus_of(product.sku_ids) if s.active]))


def get_skus(sku_ids: Iterable[str]) -> dict[str, Sku]:
    """SKUs by id, strongly consistent, each with its whole stock (the sum of its shards)."""
    return {s.sku_id: s for s in stock_shards.with_totals(_skus_of(sku_ids, consistent=True), consistent=True)}


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
