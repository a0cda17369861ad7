"""The web console in a real browser: Debian's Chromium driven by Playwright for Python.

Used by `tests/browser/test_console.py` and, run as a script, to take docs/console.md's screenshots:

    python -m scripts.console shots          # docs/console-*.png, against a fresh local stack

Playwright never downloads a browser here: it drives `/usr/bin/chromium` (`make chromium`
installs Debian's package when it is missing).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scripts.fuzz import ADDRESS, CARD_NUMBER, PASSWORD, Http, local_stack

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
REVIEWER = "审核员 Reviewer (demo-reviewer)"  # the sign-in page's demo users, by their labels
MERCHANT = "商家 Merchant (demo-merchant)"
SUPPORT = "客服 Support (demo-support)"
RISK = "风控 Risk (demo-risk)"
DEMO_SKU = "sku_demo_case_black"  # demo-merchant's phone case, seeded by the stack


def resident_id(born: str, seq: int) -> str:
    """A resident ID number with a valid GB 11643 check digit (region 110105)."""
    first17 = f"110105{born}{seq % 1000:03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(d) * w for d, w in zip(first17, weights, strict=True))
    return first17 + "10X98765432"[total % 11]


@dataclass
class World:
    """The local stack over HTTP, as the mobile app and the API's other clients use it."""

    http: Http
    tokens: dict[str, str] = field(default_factory=dict)

    def token(self, sub: str, role: str) -> str:
        if sub not in self.tokens:
            self.tokens[sub] = self.http.call("POST", "/v1/dev/tokens", {"sub": sub, "roles": [role]})["token"]
        return self.tokens[sub]

    def as_(self, sub: str, role: str, method: str, path: str, body: Any = None, idem: bool = False) -> Any:
        return self.http.call(method, path, body, self.token(sub, role), idem=idem)

    def advance(self, seconds: int) -> None:
        """Move the service clock (tokens minted before may expire: mint anew)."""
        self.http.call("POST", "/v1/dev/clock", {"advance_seconds": seconds})
        self.tokens.clear()

    def consumer(self) -> str:
        """A new activated 先用后付 consumer."""
        sub = f"console-consumer-{uuid.uuid4().hex[:8]}"
        self.as_(
            sub,
            "consumer",
            "POST",
            "/v1/me/identity",
            {"real_name": "张三", "id_number": resident_id("19900307", uuid.uuid4().int)},
        )
        self.as_(sub, "consumer", "POST", "/v1/me/bank-cards", {"card_number": CARD_NUMBER})
        self.as_(sub, "consumer", "PUT", "/v1/me/payment-password", {"password": PASSWORD})
        version = self.as_(sub, "consumer", "GET", "/v1/bnpl/agreement")["version"]
        self.as_(sub, "consumer", "POST", "/v1/bnpl/activation", {"agreement_version": version})
        return sub

    def placed_order(self, consumer: str, quantity: int = 1, sku: str = DEMO_SKU) -> str:
        body = {"items": [{"sku_id": sku, "quantity": quantity}], "payment_method": "bnpl", "address": ADDRESS}
        order = self.as_(consumer, "consumer", "POST", "/v1/checkout", body, idem=True)["orders"][0]
        confirm = {"challenge_id": order["challenge"]["challenge_id"], "password": PASSWORD}
        self.as_(consumer, "consumer", "POST", f"/v1/orders/{order['order_id']}/confirmation", confirm, idem=True)
        return str(order["order_id"])

    def ship(self, order_id: str) -> None:
        body = {"carrier": "SF", "tracking_number": f"SF{uuid.uuid4().int % 10**10:010d}"}
        self.as_("demo-merchant", "merchant", "POST", f"/v1/merchant/orders/{order_id}/shipment", body)

    def received_order(self, consumer: str, quantity: int = 1, sku: str = DEMO_SKU) -> str:
        order_id = self.placed_order(consumer, quantity, sku)
        self.ship(order_id)
        self.as_(consumer, "consumer", "POST", f"/v1/orders/{order_id}/receipt")
        return order_id

    def return_request(self, consumer: str, reason: str = "尺码不合适", kind: str = "refund_only") -> tuple[str, str]:
        order_id = self.received_order(consumer)
        body = {"reason": reason, "kind": kind}
        made = self.as_(consumer, "consumer", "POST", f"/v1/orders/{order_id}/return-requests", body)
        return order_id, str(made["request_id"])

    def decide_return(self, request_id: str, decision: str, note: str = "") -> None:
        body = {"decision": decision, "note": note}
        self.as_("demo-merchant", "merchant", "POST", f"/v1/merchant/return-requests/{request_id}/decision", body)

    def ship_back(self, consumer: str, order_id: str, request_id: str, tracking_number: str) -> None:
        body = {"carrier": "SF", "tracking_number": tracking_number}
        self.as_(consumer, "consumer", "POST", f"/v1/orders/{order_id}/return-requests/{request_id}/shipment", body)

    def held_redemption(self, amount_fen: int, consumer: str = "demo-consumer") -> str:
        """A redemption the review holds for a person (the demo consumer's account is new)."""
        made = self.as_(consumer, "consumer", "POST", "/v1/wallet/redemptions", {"amount_fen": amount_fen}, idem=True)
        rid = str(made["redemption_id"])
        # The stack's own worker may hold the message: drain, and wait for whoever has it.
        deadline = time.monotonic() + 20
        while True:
            self.http.call("POST", "/v1/dev/queue/drain", {})
            status = self.as_(consumer, "consumer", "GET", f"/v1/wallet/redemptions/{rid}")["status"]
            if status != "pending" or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert status == "manual_review", status
        return rid


def launch(playwright: Any) -> Any:
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing: `make chromium` installs Debian's chromium package")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


class Console:
    """One browser page on the console, collecting every script error it shows."""

    def __init__(self, browser: Any, base: str, viewport: dict[str, int] = DESKTOP) -> None:
        self.context = browser.new_context(viewport=viewport, base_url=base, locale="zh-CN")
        self.page = self.context.new_page()
        self.page.set_default_timeout(10_000)
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        self.failed: list[str] = []  # which requests failed, to explain a "Failed to load" error
        self.page.on("response", lambda r: self.failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)

    def sign_in(self, label: str) -> None:
        """Open the console and sign in as the demo user whose radio button reads `label`."""
        from playwright.sync_api import expect

        self.page.goto("/console/")
        self.page.get_by_role("radio", name=label).check()
        self.page.get_by_role("button", name="登录 Sign in").click()
        expect(self.page.get_by_role("button", name="退出 Sign out")).to_be_visible()

    def card(self, name: str) -> Any:
        return self.page.get_by_role("article", name=name)

    def close(self) -> None:
        self.context.close()


@contextmanager
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch(playwright)
        try:
            yield chromium
        finally:
            chromium.close()


def shots(out: Path) -> list[Path]:
    """A small world, then each screen at 1280×800 (and the review queue on a phone)."""
    from playwright.sync_api import expect

    out.mkdir(parents=True, exist_ok=True)
    taken: list[Path] = []
    with local_stack() as base, browser() as chromium:
        world = World(Http(base))
        world.held_redemption(3000)  # held: the account is new; it then waits a week
        buyer = world.consumer()
        account = {"account_name": "深圳示例商贸有限公司", "account_number": "6222020200112233446", "bank": "招商银行"}
        world.as_("demo-merchant", "merchant", "PUT", "/v1/merchant/payout-account", account)
        for days in range(5):  # settlements and payouts spread over a few days for the chart
            world.received_order(buyer, quantity=1 + days % 3)
            world.advance(86400 * (2 if days % 2 else 1))
            world.http.call("POST", "/v1/dev/jobs/run_payouts", {})
        asked = world.placed_order(buyer)  # three orders to ship, one with a question
        world.placed_order(buyer)
        world.placed_order(buyer)
        world.as_(buyer, "consumer", "POST", f"/v1/orders/{asked}/messages", {"text": "请问今天能发货吗？"})
        world.return_request(buyer)
        world.return_request(buyer, "颜色与图片不符")
        disputed, rejected = world.return_request(buyer, "做工有瑕疵", kind="return_goods")
        world.decide_return(rejected, "reject", "商品无质量问题")
        case = world.as_(buyer, "consumer", "POST", f"/v1/orders/{disputed}/disputes", {"reason": "商家拒绝退货"})
        world.held_redemption(6000)  # held: above the automatic limit

        def snap(console: Console, name: str) -> None:
            path = out / f"console-{name}.png"
            console.page.screenshot(path=str(path), full_page=False)
            taken.append(path)

        def screen(who: str, name: str, ready: str, viewport: dict[str, int] = DESKTOP) -> Console:
            c = Console(chromium, base, viewport)
            c.sign_in(who)
            # `ready`: a button's name, or the text of a status
            if ready.startswith("status:"):
                expect(c.page.get_by_role("status").filter(has_text=ready[7:]).first).to_be_visible()
            else:
                expect(c.page.get_by_role("button", name=ready).first).to_be_visible()
            snap(c, name)
            return c

        c = Console(chromium, base)
        c.page.goto("/console/")
        expect(c.page.get_by_role("button", name="登录 Sign in")).to_be_visible()
        snap(c, "sign-in")
        c.close()
        screen(REVIEWER, "reviewer", "批准 Approve").close()
        screen(REVIEWER, "reviewer-phone", "批准 Approve", PHONE).close()
        m = screen(MERCHANT, "merchant-orders", "发货 Ship")
        order = m.card(f"订单 Order {asked}")
        order.get_by_role("button", name="留言 Messages").click()
        order.get_by_role("textbox", name="回复 Reply").fill("今天下午发出，顺丰 SF")
        order.get_by_role("button", name="发送 Send").click()
        expect(order.get_by_role("listitem")).to_have_count(2)
        order.scroll_into_view_if_needed()
        snap(m, "merchant-messages")
        m.page.get_by_role("button", name="退货 Returns").click()
        expect(m.page.get_by_role("button", name="同意退货 Approve").first).to_be_visible()
        snap(m, "merchant-returns")
        m.page.get_by_role("button", name="结算 Settlements", exact=True).click()
        expect(m.page.locator("svg.chart")).to_be_visible()
        snap(m, "merchant-settlements")
        m.page.get_by_role("button", name="打款 Payouts", exact=True).click()
        expect(m.page.get_by_role("article").first).to_be_visible()
        snap(m, "merchant-payouts")
        m.close()
        s = screen(SUPPORT, "support", "查看案件 View case")
        s.card(f"纠纷 Dispute {case['dispute_id']}").get_by_role("button", name="查看案件 View case").click()
        expect(s.page.get_by_role("form", name="裁决 Decision")).to_be_visible()
        snap(s, "support")
        s.close()
    return taken


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["shots"])
    parser.add_argument("--out", default=str(ROOT / "docs"))
    args = parser.parse_args(argv)
    for path in shots(Path(args.out)):
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
