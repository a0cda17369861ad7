"""Catalog and cart: products with SKUs, and cart lines."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from .common import NOT_BLANK, STRIP, Body, Id, PageQuery, PositiveFen, ShortText, View, example

AttrName = Annotated[str, StringConstraints(min_length=1, max_length=20, pattern=NOT_BLANK), STRIP]
AttrValue = Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=NOT_BLANK), STRIP]
Attributes = Annotated[
    dict[AttrName, AttrValue],
    Field(
        max_length=5,
        description='spec attributes, e.g. {"颜色": "黑色"}',
        # The document names the key rule too (pydantic renders it as patternProperties only).
        json_schema_extra={
            "propertyNames": {"minLength": 1, "maxLength": 20, "pattern": NOT_BLANK},
            "additionalProperties": False,
        },
    ),
]
Stock = Annotated[int, Field(ge=0, le=1_000_000, description="units available to sell")]
Quantity = Annotated[int, Field(ge=1, le=99)]
StockShards = Annotated[
    int,
    Field(
        ge=1,
        le=50,  # services/stock.py MAX_SHARDS
        description="items the stock is split over: raise it before a flash sale (about 1 per 300 "
        "purchases/s); it only rises; a product's SKUs hold at most 99 in all. Omitted: as it is (1 for a new SKU)",
    ),
]
Description = Annotated[str, StringConstraints(max_length=5000)]
InterestFreeParts = Annotated[
    list[Annotated[int, Field(ge=2, le=36)]],
    Field(max_length=6, description="免息: the installment plans (part counts) whose fee the merchant pays"),
]
# A product's SKUs are written in one transaction with the product (DynamoDB: 100 items).
MAX_SKUS = 30


class SkuIn(Body):
    attributes: Attributes = Field(default_factory=dict)
    price_fen: PositiveFen
    stock: Stock
    stock_shards: StockShards | None = None


class SkuEditIn(SkuIn):
    sku_id: Id | None = Field(default=None, description="an existing SKU to change; omit to add one")


class ProductIn(Body):
    model_config = example(
        {
            "name": "手机壳",
            "description": "硅胶",
            "skus": [{"attributes": {"颜色": "黑色"}, "price_fen": 2990, "stock": 100}],
        }
    )

    name: ShortText
    description: Description = ""
    skus: Annotated[list[SkuIn], Field(min_length=1, max_length=MAX_SKUS)]
    interest_free_parts: InterestFreeParts = Field(default_factory=list)


class ProductEditIn(Body):
    """The product as it should be: listed SKUs are kept or added, unlisted ones withdrawn."""

    model_config = example(
        {
            "name": "手机壳",
            "skus": [
                {"sku_id": "sku_demo_case_black", "attributes": {"颜色": "黑色"}, "price_fen": 2590, "stock": 80},
                {"attributes": {"颜色": "白色"}, "price_fen": 2990, "stock": 50},
            ],
        }
    )

    name: ShortText
    description: Description = ""
    skus: Annotated[list[SkuEditIn], Field(min_length=1, max_length=MAX_SKUS)]
    interest_free_parts: InterestFreeParts = Field(default_factory=list)


class ProductsQuery(PageQuery):
    merchant_id: Id | None = None


class SkuView(View):
    sku_id: str
    attributes: dict[str, str]
    price_fen: int
    stock: int = Field(description="units left, over all the SKU's stock shards")
    stock_shards: int = Field(description="items the stock is split over (1 unless raised for a sale)")
    available: bool = Field(description="in stock now: it can go in a cart and be checked out")


class ReviewSummary(View):
    count: int
    average: float | None = Field(description="mean rating 1-5, one decimal; null before the first review")


class ProductView(View):
    product_id: str
    merchant_id: str
    name: str
    description: str
    price_from_fen: int
    skus: list[SkuView]
    reviews: ReviewSummary
    interest_free_parts: list[int] = Field(description="免息 installment plans: the merchant pays their fee")
    created_at: str
    updated_at: str


class ProductSummaryView(View):
    product_id: str
    merchant_id: str
    name: str
    price_from_fen: int
    reviews: ReviewSummary
    created_at: str


class ProductList(View):
    items: list[ProductSummaryView]
    next_cursor: str | None = None


class CartItemIn(Body):
    model_config = example({"quantity": 2, "selected": True})

    quantity: Quantity
    selected: bool = True


class CartLineView(View):
    sku_id: str
    product_id: str
    product_name: str
    attributes: dict[str, str]
    unit_price_fen: int
    quantity: int
    selected: bool
    line_total_fen: int
    stock: int
    available: bool = Field(description="false when the SKU was withdrawn or has less stock than the quantity")


class CartView(View):
    items: list[CartLineView]
    selected_count: int
    selected_total_fen: int
