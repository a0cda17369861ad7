"""What a decision looks at, read in one BatchGet, and the counters its transaction adds to.

Velocity is counted per dimension (user, device, card, delivery address, merchant) in day
items with ten-minute slots (`models/risk.py`): a window is its slots back from now, so
"1 h" is the current slot and the five before it. Only orders the rules let through
(approve or review) are counted: a declined retry does not push the count up. A merchant's
counter is sharded like its order index (`MERCHANT_ORDER_SHARDS`): a hot merchant's
confirmations spread over several items, and the read sums the shards.

The merchant dimension is read through a process cache of `RISK_MERCHANT_CACHE_SECONDS`
(a few seconds): its rules are coarse (a merchant's volume over hours and days), and read
exactly at every confirmation its items — every shard × 7 days, shared by every buyer of a
flash sale — would be read at the purchase rate (10,000/s: ~70,000 RCU/s an item, far over a
partition's 3,000). Cached, an item is read once per container per TTL (1,000 warm
containers, 5 s: ~200 reads/s). The user, device, card and address dimensions — one buyer's —
stay exact: they are read at every decision. A miss reads the merchant's items in the same
BatchGet as the rest, so a decision still adds one read to the confirmation.

Two confirmations at once must not both pass a limit on counts neither has added to yet: the
counters of the dimensions one buyer controls (user, device, card, address) that the rules
look at are added to on condition that today's item still holds the count the decision read
(`guarded`), so the later of two racing transactions fails and decides again with fresh
counts. The merchant's counters are never conditioned: a flash sale (10,000 purchases/s of
one merchant) would make every confirmation conflict with every other, and they are read
through the cache anyway.

A card is counted and listed by its fingerprint (the vault's keyed hash of the number, kept
on the user item with the default card), so one card bound to two accounts is one card. A
binding from before fingerprints were kept is known by its card id, as it was.
"""

from __future__ import annotations

import statistics
import threading
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pynamodb.expressions.update import Action

from ... import batch, errors, ledger, pii, sharding
from ...channels import card_vault
from ...clock import parse_iso
from ...config import settings
from ...db import Tx
from ...models.ledger import Balance
from ...models.orders import Order
from ...models.risk import (
    ALLOW,
    BLOCK,
    SLOT_SECONDS,
    RiskCounter,
    RiskListEntry,
    slot_count,
    slot_fen,
)
from ...models.users import User
from .rules import DIMENSIONS, WINDOWS

DAYS_READ = 7  # today and the six days before it: the 7 d window to a slot
MEDIAN_OF = 20  # the profile's median looks at this many recent orders
PROFILE_PART = "all"
COUNTS_MOVED = "risk_counts_moved"
# Not on the routes: the confirmation decides again (then `state_changed`, declared there).
UNDOCUMENTED_ERRORS = errors.raises(conflict=[COUNTS_MOVED])


def value_hash(kind: str, value: str) -> str:
    """The keyed hash a list entry and a counter know a value by (never the raw value)."""
    return pii.keyed_hash(f"risk:{kind}", normalise(kind, value))


def normalise(kind: str, value: str) -> str:
    """One spelling per value, so a listed or counted value cannot be dodged by writing it
    another way: full-width forms folded (NFKC), case folded, whitespace collapsed; an
    address by its letters and digits only (建国路 1 号 = 建国路1号 = 建国路，1号。: no
    whitespace, punctuation or symbols), a card or phone by its digits, a phone without
    China's country code (+86 / 0086; a landline then with its trunk 0, as dialled at home)."""
    text = " ".join(unicodedata.normalize("NFKC", value).split()).casefold()
    if kind in ("address", "card", "phone"):
        text = "".join(ch for ch in text if ch.isalnum())
    if kind == "phone":
        for prefix in ("0086", "86"):
            rest = text[len(prefix) :]
            if text.startswith(prefix) and 9 <= len(rest) <= 11:
                # A mobile is 11 digits from 1; a landline (area code and number) is dialled
                # at home with its trunk 0: +86 10 12345678 is 010-12345678.
                return rest if len(rest) == 11 and rest.startswith("1") else "0" + rest
    return text


def entry_id(kind: str, value: str) -> str:
    return "rl_" + value_hash(kind, value)[:32]


def address_text(address: Mapping[str, Any]) -> str:
    return f"{address.get('line1', '')}|{address.get('city', '')}"


@dataclass(frozen=True)
class Subject:
    """The values one confirmation is about, by dimension (a missing one is not counted)."""

    values: dict[str, str]  # dimension → raw value (user id, device id, card fingerprint, address)
    phone: str | None
    merchant_shard: int
    legacy_card_id: str | None = None  # block-list entries made by the user's card id

    def counter_keys(self) -> dict[str, list[str]]:
        """Per dimension, the counter keys to read (the merchant's: every shard)."""
        keys: dict[str, list[str]] = {}
        for dim, value in self.values.items():
            base = f"{dim}#{value if dim == 'user' else value_hash(dim, value)[:32]}"
            if dim == "merchant":
                keys[dim] = [f"{base}#{n:02d}" for n in _merchant_read_range(value)]
            else:
                keys[dim] = [base]
        return keys

    def write_key(self, dim: str) -> str:
        keys = self.counter_keys()[dim]
        if dim != "merchant":
            return keys[0]
        return keys[0].rsplit("#", 1)[0] + f"#{self.merchant_shard:02d}"

    def list_ids(self) -> list[str]:
        ids = [entry_id(dim, value) for dim, value in self.values.items() if dim != "merchant"]
        if self.phone:
            ids.append(entry_id("phone", self.phone))
        if self.legacy_card_id and self.legacy_card_id != self.values.get("card"):
            ids.append(entry_id("card", self.legacy_card_id))
        return ids


def _merchant_shards(merchant_id: str) -> tuple[int, int]:
    rules = settings().rules
    return (
        sharding.counts_for(rules.merchant_order_shards, merchant_id),
        sharding.counts_for(rules.merchant_order_shards_previous, merchant_id),
    )


def _merchant_read_range(merchant_id: str) -> range:
    return sharding.read_range(*_merchant_shards(merchant_id))


def subject_of(order: Order, user: User, device_id: str | None) -> Subject:
    """Who and what a confirmation is counted against. The device is the one it was made
    from: the signing device, or the one the app names beside the password; naming none, the
    user's device registered last (a password confirmation is not a way around its limit)."""
    address = dict(order.address or {})
    values = {"user": order.user_id, "merchant": order.merchant_id}
    device = device_id or user.last_device_id
    if device:
        values["device"] = str(device)
    if user.default_card_id:
        values["card"] = str(user.default_card_fingerprint or user.default_card_id)
    if address.get("line1"):
        values["address"] = address_text(address)
    now_count, _ = _merchant_shards(order.merchant_id)
    shard = sharding.shard_of(order.order_id, now_count)
    return Subject(values, address.get("phone") or None, shard, user.default_card_id or None)


def listed_value(kind: str, value: str) -> str:
    """What a list entry is made from: a card entered by its number is listed by its
    fingerprint (so it matches every account the card is bound to); a card id as before."""
    digits = normalise(kind, value)
    if kind == "card" and digits.isdigit():
        return card_vault.tokenize(digits).fingerprint
    return value


def day_of(at: datetime) -> str:
    return at.strftime("%Y-%m-%d")


def slot_of(at: datetime) -> int:
    return (at.hour * 3600 + at.minute * 60 + at.second) // SLOT_SECONDS


_Counters = dict[tuple[str, str], RiskCounter]
_merchant_cache: dict[str, tuple[datetime, tuple[str, ...], _Counters]] = {}
_merchant_lock = threading.Lock()
MERCHANT_CACHE_MAX = 10_000  # merchants a process remembers (past it, it starts over)


def forget_merchants() -> None:
    """Drop every merchant's cached counters (a new container's first decision)."""
    with _merchant_lock:
        _merchant_cache.clear()


def _merchant_cached(merchant_id: str, days: list[str], now: datetime) -> _Counters | None:
    ttl = settings().rules.risk_merchant_cache_seconds
    with _merchant_lock:
        hit = _merchant_cache.get(merchant_id)
    if hit is None or hit[1] != tuple(days) or not timedelta(0) <= now - hit[0] < timedelta(seconds=ttl):
        return None
    return hit[2]


def _remember_merchant(merchant_id: str, days: list[str], now: datetime, counters: _Counters) -> None:
    if settings().rules.risk_merchant_cache_seconds <= 0:
        return
    with _merchant_lock:
        if len(_merchant_cache) >= MERCHANT_CACHE_MAX:
            _merchant_cache.clear()
        _merchant_cache[merchant_id] = (now, tuple(days), counters)


@dataclass
class Observed:
    """What the BatchGet found."""

    counters: dict[tuple[str, str], RiskCounter] = field(default_factory=dict)
    listed: list[RiskListEntry] = field(default_factory=list)
    profile: RiskCounter | None = None
    credit: Balance | None = None


def read(subject: Subject, user_id: str, now: datetime) -> Observed:
    """Everything the decision needs, in one BatchGet (the merchant's counters: unless cached)."""
    days = [day_of(now - timedelta(days=d)) for d in range(DAYS_READ)]
    counter_keys = subject.counter_keys()
    merchant_id = subject.values.get("merchant")
    cached = _merchant_cached(merchant_id, days, now) if merchant_id else None
    if cached is not None:
        counter_keys.pop("merchant", None)
    keys: list[batch.Key] = [
        (RiskCounter, key, day) for dim_keys in counter_keys.values() for key in dim_keys for day in days
    ]
    keys += [(RiskListEntry, eid, None) for eid in subject.list_ids()]
    keys += [(RiskCounter, f"profile#{user_id}", PROFILE_PART), (Balance, ledger.user_account(user_id), ledger.CREDIT)]
    found = batch.get_many(keys)
    seen = Observed()
    for item in found:
        if isinstance(item, RiskListEntry):
            seen.listed.append(item)
        elif isinstance(item, Balance):
            seen.credit = item
        elif isinstance(item, RiskCounter):
            if item.part == PROFILE_PART:
                seen.profile = item
            else:
                seen.counters[(item.key, item.part)] = item
    if cached is not None:
        seen.counters.update(cached)
    elif merchant_id:
        mine = set(counter_keys.get("merchant", []))
        _remember_merchant(merchant_id, days, now, {k: v for k, v in seen.counters.items() if k[0] in mine})
    return seen


def _window(seen: Observed, keys: Sequence[str], now: datetime, seconds: int) -> tuple[int, int]:
    """(orders, fen) over the last `seconds`, to a slot: the current slot and those wholly
    inside the window before it (so "1 h" is 50 to 60 minutes back)."""
    slots = seconds // SLOT_SECONDS
    if seconds >= DAYS_READ * 86400:  # whole days: the day totals
        days = [day_of(now - timedelta(days=d)) for d in range(DAYS_READ)]
        items = [seen.counters.get((k, d)) for k in keys for d in days]
        return sum(int(i.n or 0) for i in items if i), sum(int(i.f or 0) for i in items if i)
    n = fen = 0
    for back in range(slots):
        at = now - timedelta(seconds=back * SLOT_SECONDS)
        day, slot = day_of(at), slot_of(at)
        for key in keys:
            item = seen.counters.get((key, day))
            if item is not None:
                n += int(getattr(item, slot_count(slot)) or 0)
                fen += int(getattr(item, slot_fen(slot)) or 0)
    return n, fen


def inputs_of(subject: Subject, seen: Observed, order: Order, user: User, now: datetime) -> dict[str, int]:
    amount = int(order.total_fen)
    out: dict[str, int] = {"amount_fen": amount}
    keys = subject.counter_keys()
    for dim in DIMENSIONS:
        for name, seconds in WINDOWS.items():
            n, fen = _window(seen, keys.get(dim, []), now, seconds)
            out[f"{dim}_orders_{name}"], out[f"{dim}_fen_{name}"] = n, fen
    credit = seen.credit
    limit = int(credit.limit or 0) if credit is not None else 0
    used = int(credit.balance or 0) if credit is not None else 0
    out["exposure_bps"] = (used + amount) * 10000 // limit if limit > 0 else 10000
    out["account_age_hours"] = max(0, int((now - parse_iso(user.created_at)).total_seconds() // 3600))
    past = int(seen.profile.orders or 0) if seen.profile is not None else 0
    recent = [int(x) for x in (seen.profile.recent_fen or [])][-MEDIAN_OF:] if seen.profile is not None else []
    median = int(statistics.median(recent)) if recent else 0
    out["past_orders"] = past
    out["first_order"] = int(past == 0)
    out["median_order_fen"] = median
    out["amount_over_median_pct"] = amount * 100 // median if median > 0 else 0
    out["overdue_open"] = int(user.overdue_open_count or 0)
    # Nobody decides their own case: an allow entry the buyer added (an operator who shops,
    # listing their phone, address, card or device) does not wave their own order through.
    out["allow_listed"] = int(any(e.list_name == ALLOW and e.added_by != order.user_id for e in seen.listed))
    out["block_listed"] = int(any(e.list_name == BLOCK for e in seen.listed))
    return out


GUARDED = ("user", "device", "card", "address")  # one buyer's dimensions; never the merchant's


def guarded(subject: Subject, seen: Observed, used: set[str], now: datetime) -> dict[str, int | None]:
    """Per dimension the rules look at (`used`: input names) and one buyer controls, the day
    count of today's item as read (None: no item): what its counter update is conditioned on."""
    day = day_of(now)
    out: dict[str, int | None] = {}
    for dim in GUARDED:
        if dim in subject.values and any(name.startswith(f"{dim}_") for name in used):
            item = seen.counters.get((subject.write_key(dim), day))
            out[dim] = int(item.n or 0) if item is not None else None
    return out


def count_in(tx: Tx, subject: Subject, amount_fen: int, now: datetime, read: Mapping[str, int | None]) -> None:
    """Add this order to every velocity counter, in `tx` (atomic adds; the profile counts it once paid);
    a dimension in `read` only while today's item holds the count read (else `counts_moved`)."""
    day, slot = day_of(now), slot_of(now)
    n_slot, f_slot = getattr(RiskCounter, slot_count(slot)), getattr(RiskCounter, slot_fen(slot))
    adds: list[Action] = [RiskCounter.n.add(1), RiskCounter.f.add(amount_fen), n_slot.add(1), f_slot.add(amount_fen)]
    moved = errors.moved(COUNTS_MOVED, "another confirmation was counted meanwhile; decide again")
    for dim in subject.values:
        if dim not in read:
            tx.update(RiskCounter(subject.write_key(dim), day), adds)
            continue
        n = read[dim]
        condition = RiskCounter.key.does_not_exist() if n is None else RiskCounter.n == n
        tx.update(RiskCounter(subject.write_key(dim), day), adds, condition=condition, on_fail=moved)


def count_paid(tx: Tx, user_id: str, amount_fen: int) -> None:
    """An order of the user's was paid for `amount_fen`: the profile (past orders, the median)
    counts paid orders only (SPEC: "the user's median paid order"), so orders confirmed and then
    cancelled, or declined in review, neither move the median nor end the buyer's first order."""
    tx.update(
        RiskCounter(f"profile#{user_id}", PROFILE_PART),
        [
            RiskCounter.orders.add(1),
            RiskCounter.recent_fen.set((RiskCounter.recent_fen | []).append([amount_fen])),
        ],
    )
