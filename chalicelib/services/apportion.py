"""How an order's amounts split over the goods kept and returned, so the parts always sum
to the whole, to the fen, whatever is returned in whatever order.

Every amount is a function of one number, the list-price value of the goods still kept
(`kept_goods_fen`), never a sum of rounded shares:
- the consumer pays `consumer_cost(kept)`: the kept goods less their pro-rata share of the
  order's discount (a coupon), rounded half up. All kept: the order's total; none: 0.
  A return gives back what the consumer was paying less the cost of what is still kept
  (`refund_fen`), so the refunds (or credit released) of all returns add up to the total.
- the merchant is owed `settlement(kept)`: the fee is `platform_fee_bps` of the kept goods,
  rounded down, and the payable is the rest (coupons are platform-funded, so both are on
  list prices). A return after receipt reverses what was settled less the settlement of
  what is still kept (`settlement_reversal`), so payable + fee always equal the kept goods.
Because each step subtracts "now" minus "what it should be", a rounding left over by an
older rule is corrected by the next return instead of being carried.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..config import settings
from ..models.orders import Order
from ..money import Fen


def kept_goods_fen(items: list[dict[str, Any]], returning: Mapping[str, int] | None = None) -> Fen:
    """List-price value of the goods not returned (and not in `returning`: sku -> quantity)."""
    returning = returning or {}
    return sum(
        int(i["unit_price_fen"])
        * (int(i["quantity"]) - int(i.get("returned_quantity", 0)) - int(returning.get(i["sku_id"], 0)))
        for i in items
    )


def consumer_cost(subtotal_fen: Fen, total_fen: Fen, kept_fen: Fen) -> Fen:
    """What the consumer pays for kept goods worth `kept_fen` at list price."""
    if kept_fen >= subtotal_fen:
        return total_fen
    discount = subtotal_fen - total_fen
    share = (2 * discount * kept_fen + subtotal_fen) // (2 * subtotal_fen)  # half up
    return kept_fen - share


def refund_fen(subtotal_fen: Fen, total_fen: Fen, paying_fen: Fen, kept_after_fen: Fen) -> Fen:
    """What a return gives back: what the consumer was paying (`paying_fen`: the total
    less earlier refunds) less what the goods still kept after it cost."""
    return paying_fen - consumer_cost(subtotal_fen, total_fen, kept_after_fen)


def fee_fen(goods_fen: Fen) -> Fen:
    return goods_fen * settings().rules.platform_fee_bps // 10_000


def settlement(kept_fen: Fen) -> tuple[Fen, Fen]:
    """(merchant payable, platform fee) for goods worth `kept_fen`: they sum to it."""
    fee = fee_fen(kept_fen)
    return kept_fen - fee, fee


def settlement_reversal(payable_fen: Fen, fee_fen_now: Fen, kept_after_fen: Fen) -> tuple[Fen, Fen]:
    """(payable, fee) a return takes back from what was settled, leaving the settlement of
    the goods still kept."""
    payable, fee = settlement(kept_after_fen)
    return payable_fen - payable, fee_fen_now - fee


def return_amounts(order: Order, lines: list[tuple[str, int]]) -> list[int]:
    """What the consumer gets back for each line of a return (sku, quantity), in order:
    each line is priced as if returned after the ones before it, so they sum to the
    request's amount, and the request's amount to what the goods left will no longer cost."""
    subtotal, total = int(order.subtotal_fen), int(order.total_fen)
    paying = total - int(order.refunded_fen or 0)
    returning: dict[str, int] = {}
    amounts = []
    for sku_id, quantity in lines:
        returning[sku_id] = returning.get(sku_id, 0) + quantity
        amount = refund_fen(subtotal, total, paying, kept_goods_fen(order.items, returning))
        amounts.append(amount)
        paying -= amount
    return amounts
