"""The outside tester's fourth round, against the third release's fixes (installments, risk
decisions, merchant webhooks): each test is a defect found by an attack, failing before its fix."""

from __future__ import annotations

import pytest

from chalicelib import errors, schedules
from chalicelib.api.webhook_objects import render
from chalicelib.clock import clock
from chalicelib.services.risk import signals
from chalicelib.services.webhooks import addresses, delivery, sender
from tests.conftest import Api, new_key
from tests.support.collection import use_card
from tests.support.installments import received_in_parts, schedule_of, to_due
from tests.support.payments import assert_balanced
from tests.support.shopping import ADDRESS, MERCHANT, MERCHANT_2, checkout, confirm, create_product, sku_ids

DEPLOYED = addresses.Policy(local=False)


@pytest.mark.parametrize("url", ["https://[fec0::1]/h", "https://[feff:ffff::1]/h"])
def test_a_site_local_ipv6_address_is_not_a_public_webhook_host(url: str) -> None:
    """`fec0::/10` is IPv6's site-local (private-scope) range: deprecated, but still routed
    only inside a site. A merchant's endpoint `https://[fec0::1]/` was accepted when saved and
    sent to at delivery as a public host: a request into the platform's own network."""
    with pytest.raises(errors.DomainError) as refused:
        addresses.check_literal(url, DEPLOYED)
    assert refused.value.code == "webhook_url_refused"
    assert not addresses.allowed_address(url.split("[")[1].split("]")[0], DEPLOYED)


@pytest.mark.parametrize("kind", ["phone", "address"])
def test_an_operator_cannot_wave_their_own_orders_through_by_allow_listing_their_phone_or_address(
    api: Api, activated_user: str, kind: str
) -> None:
    """Round 3 refused an operator allow-listing themselves as a user; the allow list is also
    by phone, address, card and device, and any of them comes before every rule. An operator
    who shops allow-listed the phone (or address) of their own checkout, and their first
    ¥400 order, which a review holds, was placed at once: nobody decides their own case."""
    value = ADDRESS["phone"] if kind == "phone" else f"{ADDRESS['line1']}|{ADDRESS['city']}"
    entry = {"kind": kind, "value": value, "reason": "VIP", "list": "allow"}
    listed = api.post("/v1/risk/blocklist", entry, as_=activated_user, roles=["risk"], idem=new_key())
    assert listed.status_code in (201, 403), listed.json
    product = create_product(api, skus=[{"attributes": {"规格": "标准"}, "price_fen": 40_000, "stock": 3}])
    order = checkout(api, activated_user, [(sku_ids(product)[0], 1)]).json["orders"][0]
    held = confirm(api, activated_user, order)
    assert held.status_code == 202 and held.json["status"] == "risk_review", held.json


@pytest.mark.parametrize("overdue", [True, False])
def test_paying_everything_after_part_1_fell_due_is_not_a_500(api: Api, activated_user: str, overdue: bool) -> None:
    """Part 1's date passed (its auto-debit declined: the order is overdue; or not run yet):
    the buyer pays everything left. The last part closes the plan, which set the order's
    completion timer at part 1's date, and the paid order set the same one at its (past) due
    date: one transaction writing one item twice was a 500 on every try, so an overdue buyer
    could never pay off the plan (only part by part)."""
    user = activated_user
    oid = received_in_parts(api, user)
    if overdue:
        use_card(api, user, "0002")  # the sandbox declines it
    to_due(oid)
    if overdue:
        schedules.run("close_payment_windows", clock.now())
        assert api.get(f"/v1/orders/{oid}", as_=user).json["status"] == "overdue"
        use_card(api, user, "1111")
    payoff = schedule_of(api, user, oid)["payoff_fen"]
    paid = api.post(f"/v1/orders/{oid}/payments", {"channel": "card", "scope": "all"}, as_=user, idem=new_key())
    assert paid.status_code == 201, paid.json
    assert paid.json["amount_fen"] == payoff
    assert api.get(f"/v1/orders/{oid}", as_=user).json["status"] == "paid"
    assert_balanced()


def pinged(api: Api, merchant: str, url: str) -> str:
    """An endpoint of `merchant` at `url` (never connected to: the test sends) and its ping's event id."""
    roles = {"as_": merchant, "roles": ["merchant"]}
    made = api.post("/v1/merchant/webhook-endpoints", {"url": url, "events": ["*"]}, idem=new_key(), **roles)
    assert made.status_code == 201, made.json
    ping = api.post(f"/v1/merchant/webhook-endpoints/{made.json['endpoint_id']}/test", **roles)
    return str(ping.json["event_id"])


def test_a_retry_after_past_the_calendar_does_not_stop_other_merchants_deliveries(api: Api) -> None:
    """A merchant's endpoint answers 503 with `Retry-After: Fri, 31 Dec 9999 23:59:59 -1400`,
    a valid HTTP date that is after year 9999 in UTC: converting it overflowed, the delivery
    raised, and the sweep of due deliveries (which goes on past domain errors only) stopped
    there on every run: one merchant's answer held back every other merchant's webhooks."""
    hostile = pinged(api, MERCHANT, "https://hooks.example.com/a")
    other = pinged(api, MERCHANT_2, "https://hooks.example.net/b")
    sent: list[str] = []

    def send(url: str, body: bytes, headers: dict[str, str]) -> sender.Answer:
        sent.append(url)
        if "example.com" in url:
            return sender.Answer(503, 3, "busy", retry_after="Fri, 31 Dec 9999 23:59:59 -1400")
        return sender.Answer(200, 3, "ok")

    clock.advance(86_400)
    delivery.deliver_due(clock.now(), render, send)
    assert sorted(sent) == ["https://hooks.example.com/a", "https://hooks.example.net/b"], sent
    views = {
        event: api.get(f"/v1/merchant/webhook-events/{event}", as_=merchant, roles=["merchant"]).json
        for event, merchant in ((hostile, MERCHANT), (other, MERCHANT_2))
    }
    assert views[other]["delivery"] == "delivered", views[other]
    assert views[hostile]["delivery"] == "pending", views[hostile]


def test_an_operator_cannot_lift_the_block_on_their_own_card(api: Api, activated_user: str) -> None:
    """Round 3 refused an operator taking themselves (as a user) off the block list; the
    card they pay with was blocked by a colleague (by its number: every account it is bound
    to), and they deleted that entry themselves and bought again: nobody decides their own case."""
    blocked = api.post(
        "/v1/risk/blocklist",
        {"kind": "card", "value": "6222020200112233446", "reason": "stolen"},  # the fixture's card
        as_="risk-op-1",
        roles=["risk"],
        idem=new_key(),
    )
    assert blocked.status_code == 201, blocked.json
    entry = f"/v1/risk/blocklist/{blocked.json['entry_id']}"
    lifted = api.delete(entry, as_=activated_user, roles=["risk"])
    assert lifted.status_code == 403 and lifted.json["code"] == "own_case", lifted.json
    assert api.delete(entry, as_="risk-op-1", roles=["risk"]).status_code == 204


@pytest.mark.parametrize(
    ("listed", "variant"),
    [
        ("010-12345678", "+86 10 1234 5678"),  # Beijing: area code 10, dialled 010 at home
        ("0755 12345678", "+86-755-12345678"),  # Shenzhen: a 3-digit area code
        ("021 8765 4321", "0086 21 87654321"),
        ("13800138000", "+86 138 0013 8000"),  # a mobile, as before
    ],
)
def test_a_landline_written_with_the_country_code_is_the_same_phone(listed: str, variant: str) -> None:
    """A block-listed delivery phone dodged by writing it the international way: a landline is
    dialled at home with its trunk 0 (010-12345678) and abroad without it (+86 10 12345678);
    only an 11-digit mobile after +86 was folded, so the two spellings were two phones."""
    assert signals.value_hash("phone", variant) == signals.value_hash("phone", listed)
