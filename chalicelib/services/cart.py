"""The cart: SKUs a consumer means to buy, with quantities and a selection for checkout."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from pynamodb.exceptions import DeleteError

from .. import errors
from ..clock import iso
from ..db import Tx, condition_failed
from ..errors import FieldError
from ..models.cart import CartItem
from ..models.catalog import Sku
from . import catalog
from .orders import MAX_CHECKOUT_LINES

if TYPE_CHECKING:
    from ..idempotency import IdemScope

# Checking out the whole cart is one transaction: the cart holds what one checkout can.
MAX_CART_LINES = MAX_CHECKOUT_LINES
PUT_ERRORS = errors.raises(
    not_found=["sku_not_found"], conflict=["cart_full"], unprocessable=["quantity_exceeds_stock"]
)
REMOVE_ERRORS = errors.raises(not_found=["cart_item_not_found"])


@dataclass(frozen=True)
class CartLine:
    item: CartItem
    sku: Sku | None  # None when the SKU no longer exists

    @property
    def available(self) -> bool:
        return self.sku is not None and bool(self.sku.active) and int(self.sku.stock) >= int(self.item.quantity)

    @property
    def unit_price_fen(self) -> int:
        return int(self.sku.price_fen) if self.sku else 0

    @property
    def line_total_fen(self) -> int:
        return self.unit_price_fen * int(self.item.quantity)


def sku_not_found() -> errors.DomainError:
    return errors.not_found("sku_not_found", "no such SKU")


def get_cart(user_id: str) -> list[CartLine]:
    """The cart with today's prices and stock (prices are never remembered from adding)."""
    items = sorted(CartItem.query(user_id, consistent_read=True), key=lambda i: i.added_at)
    skus = catalog.get_skus(i.sku_id for i in items)
    return [CartLine(i, skus.get(i.sku_id)) for i in items]


def put_item(
    user_id: str, sku_id: str, quantity: int, selected: bool, now: datetime, idem: IdemScope | None = None
) -> list[CartLine]:
    """Add a SKU or set its quantity; the quantity must be in stock now."""
    existing = {i.sku_id: i for i in CartItem.query(user_id, consistent_read=True)}
    skus = catalog.get_skus(dict.fromkeys([*existing, sku_id]))  # the cart's SKUs and this one: one read
    sku = skus.get(sku_id)
    if sku is None or not sku.active:
        raise sku_not_found()
    if quantity > int(sku.stock):
        raise errors.unprocessable(
            "quantity_exceeds_stock",
            f"only {int(sku.stock)} left of this SKU",
            [FieldError("quantity", f"at most {int(sku.stock)}")],
        )
    at = iso(now)
    if sku_id not in existing and len(existing) >= MAX_CART_LINES:
        raise errors.conflict("cart_full", f"a cart holds at most {MAX_CART_LINES} SKUs")
    added_at = existing[sku_id].added_at if sku_id in existing else at
    existing[sku_id] = item = CartItem(
        user_id, sku_id, quantity=quantity, selected=selected, added_at=added_at, updated_at=at
    )
    # The cart as written, in get_cart's order (added_at, then the key's sku_id): no read after it.
    lines = [CartLine(i, skus.get(i.sku_id)) for i in sorted(existing.values(), key=lambda i: (i.added_at, i.sku_id))]
    tx = Tx()
    tx.save(item)
    if idem is not None:
        idem.stage(tx, lines)
    tx.commit()
    return lines


def remove_item(user_id: str, sku_id: str) -> None:
    """Take a SKU out of the cart (a SKU that is not there is a 404)."""
    try:
        CartItem(user_id, sku_id).delete(condition=CartItem.sku_id.exists())
    except DeleteError as exc:
        if condition_failed(exc):
            raise errors.not_found("cart_item_not_found", "this SKU is not in the cart") from exc
        raise
