"""A merchant's product edit in three calls: the product, its SKUs with their stock shards
(one BatchGet: the product records which SKUs are sharded), and one transaction that also
stores the Idempotency-Key's answer, built from what the transaction writes (issue 29)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from .. import batch, errors
from ..clock import iso
from ..db import Tx
from ..errors import FieldError
from ..models.catalog import Product, Sku, StockShard
from . import catalog
from . import stock as stock_shards
from .catalog import ProductDetail, SkuSpec

if TYPE_CHECKING:
    from ..idempotency import IdemScope

UPDATE_ERRORS = (
    catalog.NOT_FOUND_ERRORS
    | catalog.CREATE_ERRORS
    | errors.raises(conflict=["state_changed"], unprocessable=["unknown_sku"])
    | stock_shards.RESHARD_ERRORS
)
MAX_TX_ITEMS = 100  # DynamoDB's limit for one transaction
Shards = dict[str, list[StockShard | None]]


def update_product(
    merchant_id: str,
    product_id: str,
    name: str,
    description: str,
    skus: Sequence[SkuSpec],
    now: datetime,
    *,
    interest_free_parts: Sequence[int] = (),
    idem: IdemScope | None = None,
) -> ProductDetail:
    """Replace a product's details: listed SKUs are changed or added, unlisted ones withdrawn.

    A SKU's stock is set to the merchant's count only if no checkout moved it since it was
    read (otherwise 409 `state_changed`: reload and retry). A sharded SKU's count is spread
    over its shards (`stock_shards`, which only rises) in the same transaction; its shards
    are left alone when its price, count and shards are unchanged. The answer is the product
    as the transaction leaves it (no read after it).
    """
    product = catalog.get_product_item(product_id, consistent=True)
    if product.merchant_id != merchant_id:
        raise catalog.product_not_found()
    catalog.check_distinct(skus)
    free_parts = catalog.interest_free(interest_free_parts)
    current, shards = _read_skus(product)
    _check_specs(current, skus)
    at = iso(now)
    changed = errors.state_changed("the product changed meanwhile; reload and retry")
    tx = Tx()
    kept: list[Sku] = []
    for spec in skus:
        if spec.sku_id is None:
            sku, extra = catalog.new_sku(spec, product_id, merchant_id, name, at)
            tx.save(sku, condition=Sku.sku_id.does_not_exist(), on_fail=changed)
            for shard in extra:
                tx.save(shard, condition=StockShard.sku_id.does_not_exist(), on_fail=changed)
            sku = Sku(**dict(sku.attribute_values))  # shown with its whole stock; the saved item keeps shard 0's
            sku.stock = spec.stock
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
    was_updated_at = product.updated_at
    product.name, product.description, product.updated_at = name, description, at
    product.sku_ids, product.price_from_fen = [s.sku_id for s in kept], min(s.price_fen for s in kept)
    product.interest_free_parts, product.sku_shards = free_parts, catalog.sharded_counts(kept)
    tx.update(
        product,
        [
            Product.name.set(name),
            Product.description.set(description),
            Product.sku_ids.set(product.sku_ids),
            Product.price_from_fen.set(product.price_from_fen),
            Product.interest_free_parts.set(free_parts),
            Product.sku_shards.set(product.sku_shards),
            Product.updated_at.set(at),
        ],
        condition=Product.updated_at == was_updated_at,
        on_fail=changed,
    )
    detail = ProductDetail(product, kept)
    if idem is not None and len(tx) < MAX_TX_ITEMS:  # a full transaction has no room: stored after it
        idem.stage(tx, detail)
    tx.commit()
    for sku_id in current:
        stock_shards.forget(sku_id)
    return detail


def _read_skus(product: Product) -> tuple[dict[str, Sku], Shards]:
    """The product's SKUs and their shards 1..N-1, strongly consistent, in one BatchGet: the
    product records each sharded SKU's N. A product written before it did (or a SKU whose N
    differs from the record) has its shards read after its SKUs."""
    ids = list(product.sku_ids)
    recorded = {str(k): int(v) for k, v in (product.sku_shards or {}).items()}
    wanted = [(sku_id, k) for sku_id in ids for k in range(1, recorded.get(sku_id, 1))]
    got = batch.get_many(
        [(Sku, sku_id, None) for sku_id in ids]
        + [(StockShard, stock_shards.shard_key(sku_id, k), None) for sku_id, k in wanted]
    )
    found = {s.sku_id: s for s in got[: len(ids)] if isinstance(s, Sku)}
    current = {sku_id: found[sku_id] for sku_id in ids if sku_id in found}
    shards: Shards = {}
    for (sku_id, _), item in zip(wanted, got[len(ids) :], strict=True):
        shards.setdefault(sku_id, []).append(item if isinstance(item, StockShard) else None)
    unread = [s for s in current.values() if stock_shards.shards_of(s) != 1 + len(shards.get(s.sku_id, []))]
    for sku_id in {s.sku_id for s in unread}:
        shards.pop(sku_id, None)
    shards.update(stock_shards.read_shards(unread, consistent=True))
    return current, shards


def _check_specs(current: dict[str, Sku], skus: Sequence[SkuSpec]) -> None:
    """Every listed SKU is one of the product's, no SKU's shards fall, and the shards in all
    stay within one transaction."""
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
    catalog.check_shard_total(
        [replace(spec, stock_shards=spec.stock_shards or _shards(current, spec)) for spec in skus], withdrawn
    )


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
    sku.active, sku.updated_at = True, at


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
                    catalog.new_shard(sku.sku_id, k, split[k], spec.price_fen),
                    condition=StockShard.sku_id.does_not_exist(),
                    on_fail=changed,
                )
    sku.product_name, sku.attributes, sku.price_fen, sku.stock = name, dict(spec.attributes), spec.price_fen, spec.stock
    sku.stock_shards, sku.active, sku.updated_at = n, True, at
