"""Catalog and cart: browse products, merchants' product management, the cart."""

from __future__ import annotations

from ..clock import clock
from ..schemas.catalog import (
    CartItemIn,
    CartLineView,
    CartView,
    ProductEditIn,
    ProductIn,
    ProductList,
    ProductsQuery,
    ProductSummaryView,
    ProductView,
    ReviewSummary,
    SkuView,
)
from ..services import cart, catalog, product_edits
from ..services.catalog import ProductDetail, SkuSpec
from ..web import CONSUMER, MERCHANT, Ctx, Router

router = Router("catalog")
ANY_ROLE = ("consumer", "merchant", "reviewer")


def product_view(detail: ProductDetail) -> ProductView:
    p = detail.product
    return ProductView(
        product_id=p.product_id,
        merchant_id=p.merchant_id,
        name=p.name,
        description=p.description or "",
        price_from_fen=int(p.price_from_fen),
        skus=[
            SkuView(
                sku_id=s.sku_id,
                attributes=dict(s.attributes or {}),
                price_fen=int(s.price_fen),
                stock=int(s.stock),
                stock_shards=int(s.stock_shards or 1),
                available=int(s.stock) > 0,
            )
            for s in detail.skus
        ],
        reviews=ReviewSummary(count=int(p.review_count or 0), average=catalog.review_average(p)),
        interest_free_parts=[int(n) for n in p.interest_free_parts or []],
        created_at=p.created_at,
        updated_at=p.updated_at,
    )


def cart_view(lines: list[cart.CartLine]) -> CartView:
    views = [
        CartLineView(
            sku_id=line.item.sku_id,
            product_id=line.sku.product_id if line.sku else "",
            product_name=line.sku.product_name if line.sku else "",
            attributes=dict(line.sku.attributes or {}) if line.sku else {},
            unit_price_fen=line.unit_price_fen,
            quantity=int(line.item.quantity),
            selected=bool(line.item.selected),
            line_total_fen=line.line_total_fen,
            stock=int(line.sku.stock) if line.sku else 0,
            available=line.available,
        )
        for line in lines
    ]
    chosen = [v for v in views if v.selected and v.available]
    return CartView(items=views, selected_count=len(chosen), selected_total_fen=sum(v.line_total_fen for v in chosen))


@router.route("/v1/products", "GET", roles=ANY_ROLE, query=ProductsQuery, response=ProductList)
def list_products(ctx: Ctx) -> ProductList:
    """Products, newest first; `merchant_id` narrows to one shop."""
    q: ProductsQuery = ctx.query
    page = catalog.list_products(q.merchant_id, q.limit, q.cursor)
    return ProductList(
        items=[
            ProductSummaryView(
                product_id=p.product_id,
                merchant_id=p.merchant_id,
                name=p.name,
                price_from_fen=int(p.price_from_fen),
                reviews=ReviewSummary(count=int(p.review_count or 0), average=catalog.review_average(p)),
                created_at=p.created_at,
            )
            for p in page.items
        ],
        next_cursor=page.next_cursor,
    )


@router.route("/v1/products/{product_id}", "GET", roles=ANY_ROLE, response=ProductView, errors=catalog.NOT_FOUND_ERRORS)
def get_product(ctx: Ctx, product_id: str) -> ProductView:
    """A product with its SKUs (attributes, price, stock) and its review summary."""
    return product_view(catalog.get_product(product_id))


@router.route(
    "/v1/merchant/products",
    "POST",
    roles=MERCHANT,
    body=ProductIn,
    response=ProductView,
    status=201,
    errors=catalog.CREATE_ERRORS,
)
def create_product(ctx: Ctx) -> ProductView:
    """Create a product with its SKUs (price in fen, stock); SKUs gain a `sku_id`."""
    body: ProductIn = ctx.body
    specs = [SkuSpec(dict(s.attributes), s.price_fen, s.stock, stock_shards=s.stock_shards) for s in body.skus]
    return product_view(
        catalog.create_product(
            ctx.user_id,
            body.name,
            body.description,
            specs,
            clock.now(),
            interest_free_parts=body.interest_free_parts,
        )
    )


@router.route(
    "/v1/merchant/products/{product_id}",
    "PUT",
    roles=MERCHANT,
    body=ProductEditIn,
    response=ProductView,
    errors=product_edits.UPDATE_ERRORS,
    claim_in_tx=True,
    render=product_view,
)
def update_product(ctx: Ctx, product_id: str) -> ProductDetail:
    """Edit one of the caller's products: name, description, SKUs, prices and stock."""
    body: ProductEditIn = ctx.body
    specs = [SkuSpec(dict(s.attributes), s.price_fen, s.stock, s.sku_id, s.stock_shards) for s in body.skus]
    return product_edits.update_product(
        ctx.user_id,
        product_id,
        body.name,
        body.description,
        specs,
        clock.now(),
        interest_free_parts=body.interest_free_parts,
        idem=ctx.idem,
    )


@router.route("/v1/cart", "GET", roles=CONSUMER, response=CartView)
def get_cart(ctx: Ctx) -> CartView:
    """The cart with current prices and stock; totals of the selected lines."""
    return cart_view(cart.get_cart(ctx.user_id))


@router.route(
    "/v1/cart/items/{sku_id}",
    "PUT",
    roles=CONSUMER,
    body=CartItemIn,
    response=CartView,
    errors=cart.PUT_ERRORS,
    claim_in_tx=True,
    render=cart_view,
)
def put_cart_item(ctx: Ctx, sku_id: str) -> list[cart.CartLine]:
    """Put a SKU in the cart, or set its quantity and selection."""
    body: CartItemIn = ctx.body
    return cart.put_item(ctx.user_id, sku_id, body.quantity, body.selected, clock.now(), idem=ctx.idem)


@router.route("/v1/cart/items/{sku_id}", "DELETE", roles=CONSUMER, status=204, errors=cart.REMOVE_ERRORS)
def delete_cart_item(ctx: Ctx, sku_id: str) -> None:
    """Take a SKU out of the cart."""
    cart.remove_item(ctx.user_id, sku_id)
