"""A SKU's stock, split over shards so one SKU can sell 10,000 units a second (issue 29).

One item takes ~1,000 WCU/s and ~3,000 RCU/s; a purchase writes its stock in a transaction
(2 WCU) and reads it (1 RCU), so a SKU whose stock is one item sells at most ~500/s. A
merchant (product PUT, `stock_shards`) raises N before a sale; the stock is then spread
over N items of the `skus` table: shard 0 is the SKU item, shard k ≥ 1 the item
"<sku_id>#<k>" (`StockShard`), each its own partition key.

- Take: a buyer's purchase takes from the shard chosen by a hash of the buyer and the SKU
  (buyers spread evenly; shards the process last saw empty are skipped). Checkout reads that
  one shard in its own BatchGet and conditions the write on it (`stock >= units`, active,
  price unchanged): never oversold. When the chosen shard is short, every shard is read (one
  more BatchGet) and the line's units are taken from several shards in the same transaction
  (each with its own `stock >= units` condition), starting at the chosen one: no rebalancing
  write is ever needed, and shards empty evenly because buyers are spread evenly.
- Record: a line taken from anything but shard 0 alone records its takes on the order line
  (`stock_takes`: [[shard, units], ...]); releases (cancel, expiry, a declined or timed-out
  risk review, goods returned) give units back to those shards, so releases spread as takes did.
- Price and attributes stay off the hot path: a sharded SKU's item (name, attributes,
  product, N) is cached in the process for `HEAD_CACHE_SECONDS`; the price comes from the
  shard read (each shard carries the price, set by the product edit's transaction) and the
  take is conditioned on it, so a price change is never missed and costs no extra read.
- N only rises (`stock_shards_lowered`): a release names its shard, which must still exist.
  Raising N moves the stock between shards in the product edit's one transaction.

A SKU with N = 1 (the default) is read and written exactly as before: one item, no cache.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pynamodb.models import Model

from .. import batch, errors
from ..db import Tx
from ..models.catalog import Sku, StockShard

MAX_SHARDS = 50  # per SKU: a product and all its SKUs' shards are written in one transaction
HEAD_CACHE_SECONDS = 5.0  # how stale a sharded SKU's name, attributes and N may be in a process
SOLD_OUT_SECONDS = 1.0  # a process that just read every shard empty answers "sold out" this long
Takes = list[tuple[int, int]]  # (shard, units)
SHARD_ERRORS = errors.raises(unprocessable=["too_many_stock_shards"])
RESHARD_ERRORS = SHARD_ERRORS | errors.raises(unprocessable=["stock_shards_lowered"])


def shard_key(sku_id: str, shard: int) -> str:
    return sku_id if shard == 0 else f"{sku_id}#{shard}"


def shares(total: int, shards: int) -> list[int]:
    """`total` units over `shards` shards, as even as they go (the first ones get the rest)."""
    return [total // shards + (1 if k < total % shards else 0) for k in range(shards)]


def shards_of(sku: Sku) -> int:
    return max(1, int(sku.stock_shards or 1))


def spread_index(spread: str, sku_id: str, shards: int) -> int:
    digest = hashlib.blake2b(f"{spread}:{sku_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards


def takes_of(line: Mapping[str, Any]) -> Takes:
    """Where an order line's units came from (shard 0 for lines that record nothing)."""
    recorded = line.get("stock_takes")
    if recorded:
        return [(int(k), int(q)) for k, q in recorded]
    return [(0, int(line["quantity"]))]


def record(item: dict[str, Any], takes: Takes) -> dict[str, Any]:
    """The order line `item`, with its takes recorded unless they are shard 0's alone."""
    if [k for k, _ in takes] != [0]:
        item["stock_takes"] = [[k, q] for k, q in takes]
    return item


# --- the process's cache of sharded SKUs ---------------------------------------------------------


@dataclass
class _Cached:
    head: Sku
    at: float
    stock: list[int] | None = None  # per shard, as last seen
    full_at: float = 0.0  # when every shard was last read


_cache: dict[str, _Cached] = {}
_lock = threading.Lock()


def forget(sku_id: str | None = None) -> None:
    """Drop a SKU (or every SKU) from this process's cache: its product was just edited here."""
    with _lock:
        if sku_id is None:
            _cache.clear()
        else:
            _cache.pop(sku_id, None)


def _cached(sku_id: str, now: float) -> _Cached | None:
    with _lock:
        hit = _cache.get(sku_id)
    return hit if hit is not None and now - hit.at < HEAD_CACHE_SECONDS else None


def _remember(head: Sku, now: float, stock: list[int] | None = None) -> None:
    with _lock:
        was = _cache.get(head.sku_id)
        entry = _Cached(head, now, was.stock if was else None, was.full_at if was else 0.0)
        if stock is not None:
            entry.stock, entry.full_at = stock, now
        _cache[head.sku_id] = entry


def _seen(sku_id: str, shard: int, stock: int) -> None:
    with _lock:
        hit = _cache.get(sku_id)
        if hit is not None and hit.stock is not None and shard < len(hit.stock):
            hit.stock[shard] = stock


def _view(head: Sku, price_fen: int, active: bool, stock: int) -> Sku:
    """A copy of the (possibly cached) SKU with the price, status and stock just read."""
    view = Sku(**dict(head.attribute_values))
    view.price_fen, view.active, view.stock = price_fen, active, stock
    return view


# --- checkout: which shards a line takes from --------------------------------------------------------


@dataclass
class _Line:
    sku_id: str
    quantity: int
    spread: str
    cached: _Cached | None
    shard: int = 0  # the shard read first (0: the SKU item)
    key: batch.Key | None = None
    view: Sku | None = None
    takes: Takes = field(default_factory=list)


class Reservation:
    """The stock a checkout reserves: `keys` go into the checkout's BatchGet, `resolve` turns
    what it read into SKUs (price, status, stock available to the line), `take` writes."""

    def __init__(self, lines: Sequence[tuple[str, int]], spread: str) -> None:
        now = time.monotonic()
        self._now = now
        self._lines = [_Line(sku_id, quantity, spread, _cached(sku_id, now)) for sku_id, quantity in lines]
        for line in self._lines:
            hit = line.cached
            if hit is None:
                line.key = (Sku, line.sku_id, None)  # as before: the SKU item (N = 1, or unknown here)
                continue
            n = shards_of(hit.head)
            known = hit.stock if hit.stock is not None and len(hit.stock) == n else None
            if known is not None and sum(known) < line.quantity and now - hit.full_at < SOLD_OUT_SECONDS:
                line.view = _view(hit.head, int(hit.head.price_fen), bool(hit.head.active), sum(known))
                continue  # sold out a moment ago: no read at all
            line.shard = _choose(line, n, known)
            line.key = (StockShard, shard_key(line.sku_id, line.shard), None)

    @property
    def keys(self) -> list[batch.Key]:
        return [line.key for line in self._lines if line.key is not None]

    def resolve(self, got: Sequence[Model | None]) -> dict[str, Sku]:
        """The SKUs by id (an unknown SKU is missing), each with the stock this checkout may
        take; shards short of a line's units are made up from the others (one more BatchGet)."""
        reading = [line for line in self._lines if line.key is not None]
        short: list[_Line] = []
        for line, item in zip(reading, got, strict=True):
            if line.cached is None:
                if not isinstance(item, Sku):
                    continue
                n = shards_of(item)
                if n == 1:
                    line.view, line.takes = item, [(0, line.quantity)]
                    continue
                _remember(item, self._now)
                line.cached = _Cached(item, self._now)
                line.shard = _choose(line, n, None)
                if line.shard == 0 and int(item.stock) >= line.quantity:
                    line.view, line.takes = item, [(0, line.quantity)]
                    continue
            elif isinstance(item, StockShard):
                _seen(line.sku_id, line.shard, int(item.stock))
                if int(item.stock) >= line.quantity:
                    head = line.cached.head
                    line.view = _view(head, int(item.price_fen), bool(item.active), int(item.stock))
                    line.takes = [(line.shard, line.quantity)]
                    continue
            short.append(line)
        if short:
            self._read_all(short)
        return {line.sku_id: line.view for line in self._lines if line.view is not None}

    def _read_all(self, lines: list[_Line]) -> None:
        keys: list[batch.Key] = []
        for line in lines:
            assert line.cached is not None
            keys.append((Sku, line.sku_id, None))
            keys += [(StockShard, shard_key(line.sku_id, k), None) for k in range(1, shards_of(line.cached.head))]
        got = iter(batch.get_many(keys))
        for line in lines:
            assert line.cached is not None
            head = next(got)
            shards = [next(got) for _ in range(1, shards_of(line.cached.head))]
            if not isinstance(head, Sku):
                forget(line.sku_id)
                continue
            stock = [int(head.stock), *(int(s.stock) if isinstance(s, StockShard) else 0 for s in shards)]
            _remember(head, self._now, stock)
            line.takes = _split(stock, line.shard, line.quantity)
            line.view = _view(head, int(head.price_fen), bool(head.active), sum(stock))

    def take(self, tx: Tx, sku_id: str, on_fail: errors.DomainError, *, sale: bool = True) -> Takes:
        """Write the line's takes in `tx`: each conditioned on its shard's stock and, for a
        sale, on the SKU being for sale at the price the order line charges. Returns them."""
        line = next(x for x in self._lines if x.sku_id == sku_id)
        assert line.view is not None and line.takes
        _take(tx, sku_id, line.takes, int(line.view.price_fen) if sale else None, on_fail)
        return line.takes


def _choose(line: _Line, n: int, known: list[int] | None) -> int:
    """The buyer's shard: by hash, among the shards not last seen short of the line's units."""
    candidates = [k for k in range(n) if known is None or known[k] >= line.quantity]
    pool = candidates or list(range(n))
    return pool[spread_index(line.spread, line.sku_id, len(pool))]


def _split(stock: list[int], first: int, quantity: int) -> Takes:
    """Units from the shards in order from `first` (wrapping): as few shards as that gives."""
    takes: Takes = []
    left = quantity
    for i in range(len(stock)):
        k = (first + i) % len(stock)
        units = min(stock[k], left)
        if units > 0:
            takes.append((k, units))
            left -= units
        if left == 0:
            break
    return takes or [(first, quantity)]  # short: the caller refuses before writing


def _take(tx: Tx, sku_id: str, takes: Takes, price_fen: int | None, on_fail: errors.DomainError) -> None:
    for k, units in takes:
        condition = StockShard.stock >= units
        if price_fen is not None:
            condition &= (StockShard.active == True) & (StockShard.price_fen == price_fen)  # noqa: E712
        tx.update(
            StockShard(shard_key(sku_id, k)), [StockShard.stock.add(-units)], condition=condition, on_fail=on_fail
        )


def take_now(tx: Tx, sku_id: str, quantity: int, spread: str, on_fail: errors.DomainError) -> Takes:
    """Take `quantity` units of a SKU outside a sale (an exchange's replacement, whatever the
    SKU's price or status now), from the shards as checkout would. Refused with `on_fail`
    when short."""
    reservation = Reservation([(sku_id, quantity)], spread)
    got = batch.get_many(reservation.keys)
    view = reservation.resolve(got).get(sku_id)
    if view is None or int(view.stock) < quantity:
        raise on_fail
    return reservation.take(tx, sku_id, on_fail, sale=False)


# --- releases ------------------------------------------------------------------------------------------


def give_back(tx: Tx, sku_id: str, quantity: int, takes: Takes) -> None:
    """`quantity` units of a line back to the shards they came from, first take first (a
    partial return fills the first shards; anything beyond the takes goes to the first)."""
    back: dict[int, int] = {}
    left = quantity
    for k, units in takes:
        given = min(units, left)
        if given > 0:
            back[k] = back.get(k, 0) + given
            left -= given
    if left > 0:
        first = takes[0][0] if takes else 0
        back[first] = back.get(first, 0) + left
    for k, units in back.items():
        tx.update(StockShard(shard_key(sku_id, k)), [StockShard.stock.add(units)], condition=StockShard.sku_id.exists())


def release_line(tx: Tx, line: Mapping[str, Any]) -> None:
    """An order line's units back to their shards (a cancelled order)."""
    give_back(tx, str(line["sku_id"]), int(line["quantity"]), takes_of(line))


# --- reading the stock (product pages, carts) and setting it (product edits) -----------------------------


def read_shards(skus: Iterable[Sku], *, consistent: bool) -> dict[str, list[StockShard | None]]:
    """Shards 1..N-1 of every sharded SKU in one BatchGet (none for N = 1)."""
    wanted = [(s.sku_id, k) for s in skus for k in range(1, shards_of(s))]
    if not wanted:
        return {}
    if consistent:
        got = batch.get_many([(StockShard, shard_key(sku_id, k), None) for sku_id, k in wanted])
    else:
        found = {x.sku_id: x for x in StockShard.batch_get([shard_key(s, k) for s, k in wanted])}
        got = [found.get(shard_key(s, k)) for s, k in wanted]
    out: dict[str, list[StockShard | None]] = {}
    for (sku_id, _), item in zip(wanted, got, strict=True):
        out.setdefault(sku_id, []).append(item if isinstance(item, StockShard) else None)
    return out


def with_totals(skus: list[Sku], *, consistent: bool = False) -> list[Sku]:
    """The SKUs with `stock` the sum of their shards (what a buyer can still take)."""
    shards = read_shards(skus, consistent=consistent)
    for sku in skus:
        sku.stock = int(sku.stock) + sum(int(s.stock) for s in shards.get(sku.sku_id, []) if s is not None)
    return skus


def too_many_shards(index: int) -> errors.DomainError:
    return errors.unprocessable(
        "too_many_stock_shards",
        "a product's SKUs hold at most 99 stock shards in all (one transaction)",
        [errors.FieldError(f"skus.{index}.stock_shards", "too many in all")],
    )


def shards_lowered(index: int, current: int) -> errors.DomainError:
    return errors.unprocessable(
        "stock_shards_lowered",
        f"a SKU's stock shards only rise (it has {current}): orders name their shards",
        [errors.FieldError(f"skus.{index}.stock_shards", f"at least {current}")],
    )
