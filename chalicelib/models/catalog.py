"""The catalog: products and their SKUs (spec attributes, price, stock).

Stock lives on the SKU item, so a reservation is one conditional update
(`stock >= quantity`) inside the checkout transaction: never oversold. A SKU sold in a
flash sale splits its stock over `stock_shards` items (`services/stock.py`): shard 0 is the
SKU item itself, shard k ≥ 1 the `StockShard` item "<sku_id>#<k>" of the same table (its own
partition key), each carrying the price and `active` that checkout conditions its take on.

Listing without scans:
- `by_merchant` (merchant_id, created_key): a merchant's products, newest first.
- `feed` (feed, created_key): every product, newest first, for consumers. Its hash key is
  one constant value, so the whole feed is one GSI partition: fine for product
  creation and edits (far below ~1,000 writes/s per partition key), but every Product
  write (review counters included, since the projection is ALL) is replicated into it;
  if the catalog grows past that, shard `feed` by month ("feed#YYYYMM") and walk months
  backwards in the cursor.
"""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    NumberAttribute,
    UnicodeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from ..db import table_meta

FEED_ALL = "all"


class ProductsByMerchant(GlobalSecondaryIndex["Product"]):
    class Meta:
        index_name = "by_merchant"
        projection = AllProjection()

    merchant_id = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)  # "<created_at>#<product_id>"


class ProductsFeed(GlobalSecondaryIndex["Product"]):
    class Meta:
        index_name = "feed"
        projection = AllProjection()

    feed = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)


class Product(Model):
    Meta = table_meta("products")

    product_id = UnicodeAttribute(hash_key=True)
    merchant_id = UnicodeAttribute()
    name = UnicodeAttribute()
    description = UnicodeAttribute(default="")
    sku_ids = ListAttribute[str](default=list)  # the active SKUs, in display order
    price_from_fen = NumberAttribute()  # lowest active SKU price, for lists
    feed = UnicodeAttribute(default=FEED_ALL)
    created_key = UnicodeAttribute()
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    # Review summary, maintained by the review flow: average = rating_sum / review_count.
    review_count = NumberAttribute(default=0)
    rating_sum = NumberAttribute(default=0)
    # 免息 (SPEC 'Installments'): the part counts whose fee the merchant pays, e.g. [3, 6].
    interest_free_parts = JSONAttribute(default=list)
    # {sku_id: N} of the SKUs whose stock is over N > 1 shards, so a product edit reads the SKUs
    # and their shards in one BatchGet (services/product_edits.py); absent on older products.
    sku_shards = JSONAttribute(null=True)

    by_merchant = ProductsByMerchant()
    by_feed = ProductsFeed()


class Sku(Model):
    Meta = table_meta("skus")

    sku_id = UnicodeAttribute(hash_key=True)
    product_id = UnicodeAttribute()
    merchant_id = UnicodeAttribute()
    product_name = UnicodeAttribute()  # denormalised for carts and order lines
    attributes = JSONAttribute(default=dict)  # {"颜色": "黑色", "尺码": "M"}
    price_fen = NumberAttribute()
    stock = NumberAttribute(default=0)  # units free to reserve on shard 0; checkout decrements it
    stock_shards = NumberAttribute(default=1)  # how many items hold the stock (1: this one only)
    active = BooleanAttribute(default=True)  # a SKU dropped from its product stays readable for orders
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()


class StockShard(Model):
    """Shard k ≥ 1 of a SKU's stock ("<sku_id>#<k>" in the `skus` table). Also names shard 0,
    the SKU item, when only stock, price and `active` are read or written: same attributes."""

    Meta = table_meta("skus")

    sku_id = UnicodeAttribute(hash_key=True)
    stock = NumberAttribute(default=0)
    price_fen = NumberAttribute()  # the SKU's, copied by every product edit that changes it
    active = BooleanAttribute(default=True)
