"""The web console in a real Chromium (Debian's package, driven by Playwright for Python).

One local stack (moto server + `chalice local`, on free ports) serves the whole module; each
test builds what it needs over HTTP, acts in the browser as a person would (by the buttons'
and fields' accessible names), then checks the outcome through the API and that the page
showed no script error. Under pytest-xdist each worker that runs a test here starts its own
stack and browser.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from scripts.console import DEMO_SKU, MERCHANT, PHONE, REVIEWER, RISK, SUPPORT, Console, World, browser
from scripts.fuzz import ADDRESS, PASSWORD, Http, local_stack

pytestmark = pytest.mark.browser

CHART = "近 30 天结算与打款 Settlements and payouts, last 30 days"
ACCOUNT_NUMBER = "6222020200112233446"  # the sandbox gateway pays an account ending 3446


def yuan(fen: int) -> str:
    return f"{'-' if fen < 0 else ''}¥{abs(fen) // 100}.{abs(fen) % 100:02d}"


def china_date(stamp: str) -> str:
    return (datetime.fromisoformat(stamp.replace("Z", "+00:00")) + timedelta(hours=8)).date().isoformat()


def card_paid_order(world: World, consumer: str) -> str:
    """An order paid with the consumer's card (a channel order: `paid`, waiting to ship)."""
    body = {"items": [{"sku_id": DEMO_SKU, "quantity": 1}], "payment_method": "card", "address": ADDRESS}
    order = world.as_(consumer, "consumer", "POST", "/v1/checkout", body, idem=True)["orders"][0]
    confirm = {"challenge_id": order["challenge"]["challenge_id"], "password": PASSWORD}
    world.as_(consumer, "consumer", "POST", f"/v1/orders/{order['order_id']}/confirmation", confirm, idem=True)
    world.as_(consumer, "consumer", "POST", f"/v1/orders/{order['order_id']}/payments", {"channel": "card"}, idem=True)
    return str(order["order_id"])


def sign_in_again(console: Console, label: str) -> None:
    """The sign-in page shown in place (a session that expired): the address is kept."""
    from playwright.sync_api import expect

    console.page.get_by_role("radio", name=label).check()
    console.page.get_by_role("button", name="登录 Sign in").click()
    expect(console.page.get_by_role("button", name="退出 Sign out")).to_be_visible()


def overflow(console: Console) -> int:
    return int(console.page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


@pytest.fixture(autouse=True)
def aws() -> None:
    """The stack runs its own moto server: the in-process moto of the other tests is not needed."""


@pytest.fixture(scope="module")
def stack() -> Iterator[str]:
    with local_stack() as base:
        yield base


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    with browser() as b:
        yield b


@pytest.fixture
def world(stack: str) -> World:
    return World(Http(stack))


@pytest.fixture
def console(chromium: Any, stack: str) -> Iterator[Console]:
    c = Console(chromium, stack)
    yield c
    c.close()


def test_a_reviewer_approves_a_held_redemption_and_sees_a_stale_decision_refused(
    world: World, console: Console
) -> None:
    from playwright.sync_api import expect

    held, decided_elsewhere = world.held_redemption(3000), world.held_redemption(2000)
    console.sign_in(REVIEWER)
    expect(console.page.get_by_role("heading", name="兑现审核 Redemption review")).to_be_focused()
    card = console.card(f"兑现申请 Redemption {held}")
    expect(card).to_contain_text("¥30.00")
    expect(card).to_contain_text("account younger than 24 h")
    expect(card).to_contain_text("demo-consumer")
    card.get_by_role("textbox", name="备注 Note").fill("已核实 checked")
    card.get_by_role("button", name="批准 Approve").click()
    expect(card.get_by_role("status")).to_contain_text("已批准 Approved")

    mine = world.as_("demo-consumer", "consumer", "GET", f"/v1/wallet/redemptions/{held}")
    assert mine["status"] == "approved"
    queue = world.as_("demo-reviewer", "reviewer", "GET", "/v1/review/redemptions")
    assert held not in [r["redemption_id"] for r in queue["items"]]
    assert world.as_("demo-consumer", "consumer", "GET", "/v1/wallet")["cash_balance_fen"] >= 3000

    # Another reviewer decides the second one first: the console shows the API's detail.
    other = world.as_("demo-consumer", "consumer", "GET", f"/v1/wallet/redemptions/{decided_elsewhere}")
    assert other["status"] == "manual_review"
    stale = console.card(f"兑现申请 Redemption {decided_elsewhere}")
    world.as_(
        "other-reviewer",
        "reviewer",
        "POST",
        f"/v1/review/redemptions/{decided_elsewhere}/decision",
        {"decision": "reject", "note": "dup"},
        idem=True,
    )
    stale.get_by_role("button", name="批准 Approve").click()
    # The 409 reloads the queue: the request decided elsewhere is gone, and the page says why.
    expect(console.page.get_by_role("status").filter(has_text=decided_elsewhere)).to_contain_text(
        "cannot approve a redemption that is rejected"
    )
    expect(stale).to_have_count(0)
    assert (
        world.as_("demo-consumer", "consumer", "GET", f"/v1/wallet/redemptions/{decided_elsewhere}")["status"]
        == "rejected"
    )
    # The browser logs the refused request itself; nothing else may show up.
    assert [e for e in console.errors if "status of 409" not in e] == [], (console.errors, console.failed)


def test_a_merchant_ships_an_order_and_approves_a_return(world: World, console: Console) -> None:
    from playwright.sync_api import expect

    buyer = world.consumer()
    to_ship = world.placed_order(buyer)
    paid_by_card = card_paid_order(world, buyer)
    returned_order, request = world.return_request(buyer)
    _, decided_elsewhere = world.return_request(buyer)
    credit_before = world.as_(buyer, "consumer", "GET", "/v1/wallet")["credit"]["used_fen"]

    console.sign_in(MERCHANT)
    # "To ship" (the default): placed 先用后付 orders and paid channel orders alike.
    expect(console.card(f"订单 Order {paid_by_card}").get_by_role("button", name="发货 Ship")).to_be_visible()
    order = console.card(f"订单 Order {to_ship}")
    order.get_by_role("button", name="详情 Details").click()
    expect(order.get_by_role("region", name="商品 Items")).to_contain_text("手机壳 (phone case)颜色: 黑色1¥29.90")
    expect(order.get_by_role("region", name="收货地址 Delivery address")).to_contain_text(ADDRESS["line1"])
    expect(order.get_by_role("region", name="物流 Shipment")).to_contain_text("未发货 Not shipped yet")
    tracking = order.get_by_role("textbox", name="运单号 Tracking number")
    expect(tracking).to_have_accessible_description(re.compile("starting and ending with a letter or digit"))
    order.get_by_role("combobox", name="快递公司 Carrier").select_option("ZTO")
    tracking.fill("ZT20261129001")
    order.get_by_role("button", name="发货 Ship").click()
    expect(order.get_by_role("status")).to_contain_text("已发货 Shipped")
    expect(order.get_by_role("region", name="物流 Shipment")).to_contain_text("ZTO ZT20261129001")
    expect(order.get_by_role("region", name="订单经过 Order history")).to_contain_text("merchant:demo-merchant")
    shipped = world.as_(buyer, "consumer", "GET", f"/v1/orders/{to_ship}")
    assert shipped["status"] == "shipped"
    # Paid orders: the card order still ships; a paid 先用后付 order is finished (no Ship).
    console.page.get_by_role("combobox", name="状态 Status").select_option("paid")
    expect(console.card(f"订单 Order {paid_by_card}").get_by_role("button", name="发货 Ship")).to_be_visible()
    expect(console.card("订单 Order demo-paid-1")).to_be_visible()
    expect(console.card("订单 Order demo-paid-1").get_by_role("button", name="发货 Ship")).to_have_count(0)

    console.page.get_by_role("button", name="退货 Returns").click()
    ret = console.card(f"退货申请 Return {request}")
    expect(ret).to_contain_text(returned_order)
    ret.get_by_role("textbox", name="备注 Note").fill("同意")
    ret.get_by_role("button", name="同意退货 Approve").click()
    expect(ret.get_by_role("status")).to_contain_text("已同意退货 Return approved")
    assert world.as_(buyer, "consumer", "GET", f"/v1/orders/{returned_order}")["status"] == "returned"
    credit_after = world.as_(buyer, "consumer", "GET", "/v1/wallet")["credit"]["used_fen"]
    assert credit_after < credit_before  # the returned order's credit was released
    # Decided elsewhere first: the 409 reloads the pending list, where it is no more.
    world.decide_return(decided_elsewhere, "reject", "dup")
    console.card(f"退货申请 Return {decided_elsewhere}").get_by_role("button", name="同意退货 Approve").click()
    expect(console.card(f"退货申请 Return {decided_elsewhere}")).to_have_count(0)

    console.page.get_by_role("button", name="结算 Settlements", exact=True).click()
    expect(console.page.get_by_role("img", name=CHART)).to_be_visible()
    entries = console.page.get_by_role("list", name="结算明细 Settlement entries")
    expect(entries.get_by_role("listitem").filter(has_text=returned_order).first).to_contain_text("reversed")
    assert [e for e in console.errors if "status of 409" not in e] == [], (console.errors, console.failed)


def test_a_merchant_answers_a_message_shown_as_text_and_the_buyer_reads_the_answer(
    world: World, console: Console
) -> None:
    from playwright.sync_api import expect

    buyer = world.consumer()
    order = world.placed_order(buyer)
    # Typed entities stay as typed: the API returns text exactly as sent, never HTML-escaped.
    question = '<img src=x onerror="document.title=\'pwned\'"> 什么时候发货？ Tom & "Jerry" &lt;b&gt; AT&amp;T'
    world.as_(buyer, "consumer", "POST", f"/v1/orders/{order}/messages", {"text": question})

    console.sign_in(MERCHANT)
    card = console.card(f"订单 Order {order}")
    card.get_by_role("button", name="留言 Messages").click()
    thread = card.get_by_role("list", name="留言 Messages")
    # The buyer's words as typed: neither markup nor HTML entities.
    expect(thread.get_by_role("listitem").first).to_contain_text(question)
    expect(thread.locator("img")).to_have_count(0)

    send = card.get_by_role("form", name="发送留言 Send a message")
    reply = send.get_by_role("textbox", name="回复 Reply")
    reply.fill("   ")
    send.get_by_role("button", name="发送 Send").click()
    expect(send.get_by_role("status")).to_have_text("请先输入留言 Write a message first")  # never sent
    # The limit counts characters as the API does: 1,000 emoji fit, the 1,001st does not.
    reply.fill("😀" * 1001)
    expect(send.locator(".count")).to_have_text("1000/1000")
    assert reply.input_value() == "😀" * 1000

    # The session expires while a reply is typed: after signing in again the console is back
    # on the merchant's orders with the reply still there.
    answer = "今天发货 <b>today</b>"
    reply.fill(answer)
    expired = {"title": "Unauthorized", "status": 401, "detail": "token expired", "code": "unauthorized"}
    path = f"**/v1/merchant/orders/{order}/messages"
    console.page.route(path, lambda route: route.fulfill(status=401, json=expired))
    send.get_by_role("button", name="发送 Send").click()
    expect(console.page.get_by_role("alert")).to_contain_text("请重新登录 Please sign in again (token expired)")
    console.page.unroute(path)
    sign_in_again(console, MERCHANT)
    assert console.page.url.endswith("#merchant/orders")
    expect(send.get_by_role("textbox", name="回复 Reply")).to_have_value(answer)  # the thread opened with the draft
    send.get_by_role("button", name="发送 Send").click()
    expect(send.get_by_role("status")).to_contain_text("已发送 Sent")
    expect(thread.get_by_role("listitem").first).to_contain_text(answer)
    expect(thread.get_by_role("listitem")).to_have_count(2)
    assert console.page.evaluate("Object.keys(sessionStorage).filter((k) => k.includes('draft'))") == []

    read = world.as_(buyer, "consumer", "GET", f"/v1/orders/{order}/messages")["items"]
    assert [(m["author"], m["text"]) for m in read] == [
        ("merchant", answer),
        ("consumer", question),
    ]
    assert console.page.title() != "pwned"
    assert [e for e in console.errors if "status of 401" not in e] == [], (console.errors, console.failed)


@pytest.fixture
def own_stack() -> Iterator[str]:
    """A stack of its own for a test that moves the service clock a day: the other tests'
    held redemptions count on the demo consumer's account being younger than a day."""
    with local_stack() as base:
        yield base


def test_a_merchant_saves_the_payout_account_then_sees_the_payout_and_the_chart(chromium: Any, own_stack: str) -> None:
    from playwright.sync_api import expect

    world = World(Http(own_stack))
    desk, phone = Console(chromium, own_stack), Console(chromium, own_stack, PHONE)
    try:
        desk.sign_in(MERCHANT)
        desk.page.get_by_role("button", name="打款 Payouts", exact=True).click()
        account = desk.page.get_by_role("form", name="收款账户 Payout account")
        expect(account).to_contain_text("尚未设置收款账户 No account yet")
        number = account.get_by_role("textbox", name="账号 Account number")
        expect(number).to_have_accessible_description(re.compile("8–40 digits"))
        account.get_by_role("textbox", name="户名 Account name").fill("深圳某某科技有限公司")
        account.get_by_role("textbox", name="账号 Account number").fill(ACCOUNT_NUMBER)
        account.get_by_role("textbox", name="开户行 Bank").fill("招商银行")
        account.get_by_role("button", name="保存 Save").click()
        expect(account.get_by_role("status")).to_contain_text("招商银行 •••• 3446")
        expect(account.get_by_role("textbox", name="账号 Account number")).to_have_value("")
        assert ACCOUNT_NUMBER not in desk.page.content()
        # Away and back: the account on file is shown (it is not a payout's).
        desk.page.get_by_role("button", name="结算 Settlements", exact=True).click()
        desk.page.get_by_role("button", name="打款 Payouts", exact=True).click()
        expect(account.get_by_label("收款账户 Payout account")).to_contain_text("招商银行•••• 3446")
        expect(account).to_contain_text("当前收款账户 Account on file")
        desk.page.get_by_role("button", name="退出 Sign out").click()

        order = world.received_order(world.consumer())  # settled to the merchant's payable
        world.advance(86400)  # past the next cut-off: T+1
        world.http.call("POST", "/v1/dev/jobs/run_payouts", {})
        payout = world.as_("demo-merchant", "merchant", "GET", "/v1/merchant/payouts")["items"][0]
        assert payout["status"] == "paid" and payout["last4"] == "3446", payout

        desk.sign_in(MERCHANT)
        desk.page.get_by_role("button", name="打款 Payouts", exact=True).click()
        card = desk.card(f"打款 Payout {payout['payout_id']}")
        expect(card).to_contain_text(yuan(payout["amount_fen"]))
        expect(card).to_contain_text("已打款 Paid")
        expect(card).to_contain_text("招商银行 •••• 3446")
        card.get_by_text(f"Covers {payout['entry_count']} settlement entries").click()
        expect(card.get_by_role("listitem").filter(has_text=order)).to_have_count(1)

        desk.page.get_by_role("button", name="结算 Settlements", exact=True).click()
        chart = desk.page.get_by_role("img", name=CHART)
        expect(chart).to_be_visible()
        # One bar per day and series (the stack is a day old: everything is in the 30 days).
        entries = world.as_("demo-merchant", "merchant", "GET", "/v1/merchant/settlements?limit=100")["items"]
        settled = [e for e in entries if e["amount_fen"] > 0 and not e["kind"].startswith("payout_")]
        settled_days = {china_date(e["posted_at"]) for e in settled}
        expect(chart.locator("rect.s-settled")).to_have_count(len(settled_days))
        expect(chart.locator("rect.s-reversed")).to_have_count(0)
        expect(chart.locator("rect.s-payouts")).to_have_count(1)
        bar = chart.locator(f"rect.s-payouts[data-date='{china_date(payout['settled_at'])}'] title")
        expect(bar).to_contain_text(yuan(payout["amount_fen"]))

        # A payout to an account the bank refuses (…0002) failed: "failed at" and why, never
        # "paid at"; the account on file is the one saved, not the failed payout's.
        bad = {"account_name": "深圳某某科技有限公司", "account_number": "6222020200112230002", "bank": "建设银行"}
        world.as_("demo-merchant", "merchant", "PUT", "/v1/merchant/payout-account", bad)
        world.received_order(world.consumer())
        world.advance(86400)
        world.http.call("POST", "/v1/dev/jobs/run_payouts", {})
        failed = world.as_("demo-merchant", "merchant", "GET", "/v1/merchant/payouts")["items"][0]
        assert failed["status"] == "failed", failed
        desk.page.get_by_role("button", name="退出 Sign out").click()
        desk.sign_in(MERCHANT)
        desk.page.get_by_role("button", name="打款 Payouts", exact=True).click()
        card = desk.card(f"打款 Payout {failed['payout_id']}")
        expect(card).to_contain_text("失败于 Failed at")
        expect(card).to_contain_text("账户无效 Account invalid")
        expect(card).not_to_contain_text("Paid at")
        expect(account.get_by_label("收款账户 Payout account")).to_contain_text("建设银行•••• 0002")
        # The GET of the account before one was saved is a 404 the browser logs.
        assert [e for e in desk.errors if "status of 404" not in e] == [], desk.failed

        phone.sign_in(MERCHANT)
        phone.page.get_by_role("button", name="打款 Payouts", exact=True).click()
        expect(phone.card(f"打款 Payout {payout['payout_id']}")).to_be_visible()
        assert overflow(phone) <= 0, f"the payouts scroll sideways by {overflow(phone)}px on a phone"
        phone.page.get_by_role("button", name="结算 Settlements", exact=True).click()
        phone.page.get_by_text("数据 Data").click()
        expect(phone.page.get_by_role("table")).to_be_visible()
        entries = phone.page.get_by_role("list", name="结算明细 Settlement entries")
        expect(entries.get_by_role("listitem").first).to_be_visible()
        assert overflow(phone) <= 0, f"the settlements scroll sideways by {overflow(phone)}px on a phone"
        assert phone.errors == [], phone.failed
    finally:
        desk.close()
        phone.close()


def test_on_a_phone_the_queue_fits_the_screen_and_support_sees_the_disputes(chromium: Any, stack: str) -> None:
    from playwright.sync_api import expect

    phone = Console(chromium, stack, PHONE)
    try:
        phone.sign_in(SUPPORT)
        expect(phone.page.get_by_role("heading", name="平台介入 Disputes")).to_be_visible()
        expect(phone.page.get_by_role("combobox")).to_be_visible()  # the status filter: the API has disputes
        expect(phone.page.get_by_text("Disputes are not in this deployment's API yet")).to_have_count(0)
        phone.page.get_by_role("button", name="退出 Sign out").click()
        phone.sign_in(REVIEWER)
        expect(phone.page.get_by_role("button", name="刷新 Refresh")).to_be_visible()
        assert overflow(phone) <= 0, f"the page scrolls sideways by {overflow(phone)}px on a phone"
        assert phone.errors == [], phone.failed
    finally:
        phone.close()


def test_the_hosted_ui_sign_in_uses_pkce_and_leaves_no_code_in_the_address(
    world: World, console: Console, stack: str
) -> None:
    """A deployed stage's sign-in, with Cognito played by the browser's request routing: the
    authorize request carries an S256 challenge and a state, the code comes back once, is
    exchanged with the matching verifier, and is gone from the address bar afterwards."""
    import base64
    import hashlib
    from urllib.parse import parse_qs, urlencode, urlparse

    from playwright.sync_api import expect

    domain = "auth.console.test"
    config = {
        "stage": "dev",
        "sign_in": "cognito",
        "cognito_domain": domain,
        "client_id": "console-client",
        "roles_claim": "roles",
    }
    seen: dict[str, Any] = {}
    page = console.page

    def page_with_the_stage_csp(route: Any) -> None:
        # The local stage's CSP names no Cognito domain; a stage with one names it like this.
        response = route.fetch()
        csp = response.headers["content-security-policy"].replace(
            "connect-src 'self'", f"connect-src 'self' https://{domain}"
        )
        route.fulfill(response=response, headers={**response.headers, "content-security-policy": csp})

    def authorize(route: Any) -> None:
        seen["authorize"] = query = {k: v[0] for k, v in parse_qs(urlparse(route.request.url).query).items()}
        back = f"{stack}/console/?" + urlencode({"code": "code-from-cognito", "state": query["state"]})
        # The hosted UI sends the browser back (a fulfilled redirect would skip routing).
        route.fulfill(content_type="text/html", body=f'<meta http-equiv="refresh" content="0;url={back}">')

    def token(route: Any) -> None:
        seen["token"] = form = {k: v[0] for k, v in parse_qs(route.request.post_data).items()}
        seen["page_url_at_exchange"] = page.url
        id_token = world.token("demo-reviewer", "reviewer")
        route.fulfill(
            json={"id_token": id_token, "access_token": "unused", "expires_in": 3600, "token_type": "Bearer"},
            headers={"Access-Control-Allow-Origin": "*"},
        )
        assert form["grant_type"] == "authorization_code"

    page.route("**/console/config.json", lambda r: r.fulfill(json=config))
    page.route(lambda url: urlparse(url).path == "/console/", page_with_the_stage_csp)
    page.route(f"https://{domain}/oauth2/authorize*", authorize)
    page.route(f"https://{domain}/oauth2/token", token)

    page.goto("/console/")
    page.get_by_role("button", name="登录 Sign in").click()
    expect(page.get_by_role("button", name="退出 Sign out")).to_be_visible()
    expect(page.get_by_role("heading", name="兑现审核 Redemption review")).to_be_visible()

    query, form = seen["authorize"], seen["token"]
    assert query["response_type"] == "code" and query["client_id"] == "console-client"
    assert query["code_challenge_method"] == "S256" and query["redirect_uri"] == f"{stack}/console/"
    challenge = base64.urlsafe_b64encode(hashlib.sha256(form["code_verifier"].encode()).digest()).rstrip(b"=")
    assert challenge.decode() == query["code_challenge"]
    assert form["code"] == "code-from-cognito" and form["redirect_uri"] == f"{stack}/console/"
    assert "code=" not in seen["page_url_at_exchange"] and "code=" not in page.url
    assert page.evaluate("sessionStorage.getItem('paylater.console.pkce')") is None
    assert console.errors == [], console.failed


def credit_used(world: World, consumer: str) -> int:
    return int(world.as_(consumer, "consumer", "GET", "/v1/wallet")["credit"]["used_fen"])


def test_support_decides_a_dispute_on_the_case_screen(world: World, console: Console) -> None:
    from playwright.sync_api import expect

    buyer = world.consumer()
    order, request = world.return_request(buyer, "商品有质量问题", kind="return_goods")
    world.decide_return(request, "reject", "商品无问题")
    world.as_(buyer, "consumer", "POST", f"/v1/orders/{order}/messages", {"text": "线头脱落 <see photo> &amp;"})
    dispute = world.as_(buyer, "consumer", "POST", f"/v1/orders/{order}/disputes", {"reason": "商家拒绝退货"})
    assert credit_used(world, buyer) > 0

    def late(route: Any) -> None:  # undecided past support's 5 days (the sweep marks it late)
        route.fulfill(json={**(case := route.fetch().json()), "dispute": {**case["dispute"], "late": True}})

    console.page.route(f"**/v1/support/disputes/{dispute['dispute_id']}", late)
    console.sign_in(SUPPORT)
    card = console.card(f"纠纷 Dispute {dispute['dispute_id']}")
    expect(card).to_contain_text(order)
    card.get_by_role("button", name="查看案件 View case").click()
    case = console.page.get_by_role("article", name=f"案件 Case {dispute['dispute_id']}")
    expect(case.get_by_role("heading", name=f"案件 Case {dispute['dispute_id']}")).to_be_focused()
    expect(case).to_contain_text("待处理 Open · 已逾期 Late")
    expect(case.get_by_role("region", name="纠纷 Dispute")).to_contain_text("处理期限 Decide by")
    expect(case.get_by_role("region", name="纠纷 Dispute")).to_contain_text("商家拒绝退货")
    expect(case.get_by_role("region", name="订单 Order")).to_contain_text("退货中 return requested")
    expect(case.get_by_role("region", name="商品 Items")).to_contain_text("手机壳 (phone case)")
    expect(case.get_by_role("list", name="留言 Messages")).to_contain_text("线头脱落 <see photo> &amp;")
    requests = case.get_by_role("region", name="退货申请 Return requests")
    expect(requests).to_contain_text(f"{request} · 退货退款 Return goods · 平台介入 disputed · ¥29.90")
    expect(requests).to_contain_text("商品无问题")  # the merchant's reason for rejecting
    expect(case.get_by_role("region", name="经过 History")).to_contain_text("demo-merchant")
    decision = case.get_by_role("form", name="裁决 Decision")
    decision.get_by_role("textbox", name="备注 Note").fill("质量问题属实")
    decision.get_by_role("button", name="退款 Refund").click()
    expect(decision.get_by_role("status")).to_contain_text("已退款 Refunded")

    decided = world.as_(buyer, "consumer", "GET", f"/v1/orders/{order}/disputes")["items"][0]
    assert (decided["status"], decided["note"], decided["decided_by"]) == ("refunded", "质量问题属实", "demo-support")
    assert world.as_(buyer, "consumer", "GET", f"/v1/orders/{order}")["status"] == "returned"
    assert credit_used(world, buyer) == 0  # the order's credit is released

    # Order lookup: any order with its shipment, return requests (and their way back),
    # disputes and messages; Back returns to the previous view.
    page = console.page
    other, shipped_back = world.return_request(buyer, kind="return_goods")
    world.decide_return(shipped_back, "approve")
    world.ship_back(buyer, other, shipped_back, "SF9876543299")
    page.get_by_role("button", name="订单查询 Order lookup").click()
    lookup = page.get_by_role("search", name="订单查询 Order lookup")
    lookup.get_by_role("textbox", name="订单号 Order id").fill(other)
    lookup.get_by_role("button", name="查询 Look up").click()
    found = page.get_by_role("article", name=f"订单 Order {other}")
    expect(found.get_by_role("heading", name=f"订单 Order {other}")).to_be_focused()
    returns = found.get_by_role("region", name="退货申请 Return requests")
    expect(returns).to_contain_text("寄回 Sent back SF SF9876543299")
    expect(found.get_by_role("region", name="物流 Shipment")).to_contain_text("SF SF")  # the merchant's shipment
    lookup.get_by_role("textbox", name="订单号 Order id").fill(order)
    lookup.get_by_role("button", name="查询 Look up").click()
    found = page.get_by_role("article", name=f"订单 Order {order}")
    expect(found.get_by_role("list", name="留言 Messages")).to_contain_text("线头脱落 <see photo>")
    disputes = found.get_by_role("region", name="纠纷 Disputes")
    expect(disputes).to_contain_text(f"{dispute['dispute_id']} · 已退款 Refunded")
    disputes.get_by_role("button", name="查看案件 View case").click()
    expect(case.get_by_role("heading", name=f"案件 Case {dispute['dispute_id']}")).to_be_focused()
    page.go_back()
    expect(found).to_be_visible()
    page.go_back()
    expect(page.get_by_role("article", name=f"订单 Order {other}")).to_be_visible()
    assert console.errors == [], console.failed


def test_a_merchant_confirms_arrival_of_returned_goods(world: World, console: Console) -> None:
    from playwright.sync_api import expect

    buyer = world.consumer()
    order, request = world.return_request(buyer, kind="return_goods")
    world.decide_return(request, "approve")
    world.ship_back(buyer, order, request, "SF9876543210")
    assert credit_used(world, buyer) > 0

    console.sign_in(MERCHANT)
    console.page.get_by_role("button", name="退货 Returns").click()
    returns = console.page.get_by_role("region", name="退货 Returns")
    returns.get_by_role("combobox", name="状态 Status").select_option("returning")
    card = console.card(f"退货申请 Return {request}")
    expect(card).to_contain_text("SF SF9876543210")
    card.get_by_role("button", name="确认收到退货 Confirm arrival").click()
    expect(card.get_by_role("status")).to_contain_text("已确认收货 Arrival confirmed · 已退款 refunded")

    assert world.as_(buyer, "consumer", "GET", f"/v1/orders/{order}")["status"] == "returned"
    assert credit_used(world, buyer) == 0  # refunded on arrival: the credit is released
    assert console.errors == [], console.failed


def test_a_merchant_takes_back_an_exchange_and_reships_the_replacement(world: World, console: Console) -> None:
    from playwright.sync_api import expect

    tee = {"attributes": {"尺码": "M"}, "price_fen": 5990, "stock": 10}
    product = {"name": "T恤", "description": "纯棉", "skus": [tee, {**tee, "attributes": {"尺码": "L"}}]}
    made = world.as_("demo-merchant", "merchant", "POST", "/v1/merchant/products", product)
    m, lg = (s["sku_id"] for s in made["skus"])
    buyer = world.consumer()
    order = world.received_order(buyer, sku=m)
    body = {"reason": "换个尺码", "kind": "exchange", "items": [{"sku_id": m, "quantity": 1, "to_sku_id": lg}]}
    request = world.as_(buyer, "consumer", "POST", f"/v1/orders/{order}/return-requests", body)["request_id"]
    world.decide_return(request, "approve")
    world.ship_back(buyer, order, request, "SF9876543211")

    console.sign_in(MERCHANT)
    console.page.get_by_role("button", name="退货 Returns").click()
    returns = console.page.get_by_role("region", name="退货 Returns")
    returns.get_by_role("combobox", name="状态 Status").select_option("returning")
    statuses = returns.get_by_role("combobox", name="状态 Status").locator("option")
    expect(statuses).to_have_count(12)  # every status the API filters by, and all
    card = console.card(f"退货申请 Return {request}")
    expect(card).to_contain_text("T恤 (尺码: M) × 1 → 尺码: L")
    card.get_by_role("button", name="确认收到退货 Confirm arrival").click()
    expect(card.get_by_role("status").first).to_contain_text("待补发 awaiting reshipment")
    reship = card.get_by_role("region", name="换货发出 Reship the replacement")
    reship.get_by_role("combobox", name="快递公司 Carrier").select_option("ZTO")
    reship.get_by_role("textbox", name="运单号 Tracking number").fill("ZT20261129002")
    reship.get_by_role("button", name="补发 Reship").click()
    expect(reship.get_by_role("status")).to_contain_text("已补发 Reshipped · ZTO ZT20261129002")

    lines = {i["sku_id"]: i["quantity"] for i in world.as_(buyer, "consumer", "GET", f"/v1/orders/{order}")["items"]}
    assert lines == {lg: 1}
    mine = world.as_("demo-merchant", "merchant", "GET", "/v1/merchant/return-requests?status=reshipped")["items"]
    assert [r["reship_tracking_number"] for r in mine if r["request_id"] == request] == ["ZT20261129002"]

    # Reshipped elsewhere first (another tab): the 409 reloads the list, where it is no more.
    second = world.received_order(buyer, sku=m)
    body = {**body, "items": [{"sku_id": m, "quantity": 1, "to_sku_id": lg}]}
    other = world.as_(buyer, "consumer", "POST", f"/v1/orders/{second}/return-requests", body)["request_id"]
    world.decide_return(other, "approve")
    world.ship_back(buyer, second, other, "SF9876543212")
    world.as_("demo-merchant", "merchant", "POST", f"/v1/merchant/return-requests/{other}/arrival")
    returns.get_by_role("combobox", name="状态 Status").select_option("awaiting_reshipment")
    stale = console.card(f"退货申请 Return {other}")
    form = stale.get_by_role("region", name="换货发出 Reship the replacement")
    form.get_by_role("textbox", name="运单号 Tracking number").fill("ZT20261129003")
    elsewhere = {"carrier": "ZTO", "tracking_number": "ZT20261129004"}
    world.as_("demo-merchant", "merchant", "POST", f"/v1/merchant/return-requests/{other}/reshipment", elsewhere)
    form.get_by_role("button", name="补发 Reship").click()
    expect(console.card(f"退货申请 Return {other}")).to_have_count(0)
    assert [e for e in console.errors if "status of 409" not in e] == [], (console.errors, console.failed)


def test_a_merchant_adds_a_product_and_edits_its_prices_and_stock(world: World, console: Console) -> None:
    from playwright.sync_api import expect

    name = f"帆布包 {uuid.uuid4().hex[:6]}"
    console.sign_in(MERCHANT)
    console.page.get_by_role("button", name="商品 Products").click()
    console.page.get_by_role("button", name="新建商品 New product").click()
    form = console.page.get_by_role("form", name="新商品 New product")
    form.get_by_role("textbox", name="名称 Name").fill(name)
    form.get_by_role("button", name="添加规格 Add SKU").click()
    for i, (attrs, price, stock) in enumerate([("颜色=米白", "19.99", "5"), ("颜色：黑色", "0.07", "12")]):
        sku = form.get_by_role("group", name=f"规格 SKU {i + 1}")
        sku.get_by_role("textbox", name="属性 Attributes").fill(attrs)
        sku.get_by_role("textbox", name="价格（元） Price (yuan)").fill(price)
        sku.get_by_role("spinbutton", name="库存 Stock").fill(stock)
    form.get_by_role("checkbox", name="3 期 parts").check()  # 免息: the shop pays the 3-part plan's fee
    form.get_by_role("button", name="创建商品 Create product").click()
    expect(form.get_by_role("status")).to_contain_text(
        f"已保存 Saved · {name} · ¥19.99, ¥0.07 · 免息 Interest-free 3 期"
    )

    mine = world.as_("demo-merchant", "merchant", "GET", "/v1/products?merchant_id=demo-merchant&limit=100")["items"]
    product_id = next(p["product_id"] for p in mine if p["name"] == name)
    made = world.as_("demo-merchant", "merchant", "GET", f"/v1/products/{product_id}")
    assert [(s["attributes"], s["price_fen"], s["stock"]) for s in made["skus"]] == [
        ({"颜色": "米白"}, 1999, 5),
        ({"颜色": "黑色"}, 7, 12),
    ]
    assert made["interest_free_parts"] == [3]

    card = console.card(name)
    card.get_by_role("button", name="编辑 Edit").click()
    edit = card.get_by_role("form", name=f"编辑 Edit {name}")
    first = edit.get_by_role("group", name="规格 SKU 1")
    expect(first.get_by_role("textbox", name="价格（元） Price (yuan)")).to_have_value("19.99")
    first.get_by_role("textbox", name="价格（元） Price (yuan)").fill("20.10")
    first.get_by_role("spinbutton", name="库存 Stock").fill("3")
    expect(edit.get_by_role("checkbox", name="3 期 parts")).to_be_checked()
    edit.get_by_role("checkbox", name="6 期 parts").check()
    edit.get_by_role("group", name="规格 SKU 2").get_by_role("button", name="删除规格 Remove SKU").click()
    edit.get_by_role("button", name="保存商品 Save product").click()
    expect(edit.get_by_role("status")).to_contain_text("已保存 Saved")
    expect(card.get_by_role("listitem")).to_have_text(["颜色: 米白 · ¥20.10 · 库存 stock 3"])

    edited = world.as_("demo-merchant", "merchant", "GET", f"/v1/products/{product_id}")
    assert [(s["sku_id"], s["price_fen"], s["stock"]) for s in edited["skus"]] == [(made["skus"][0]["sku_id"], 2010, 3)]
    assert edited["interest_free_parts"] == [3, 6]  # an edit keeps (and changes) the 免息 plans
    assert console.errors == [], console.failed


def held_for_review(world: World, sku: str) -> str:
    """A first 先用后付 order above ¥300, held for a risk operator (`first_order_large`). The
    buyer pays with a card of its own: the card velocity rule counts every order of a card."""
    from tests.support.channel_sim import luhn_card

    buyer = world.consumer()
    card = world.as_(
        buyer,
        "consumer",
        "POST",
        "/v1/me/bank-cards",
        {"card_number": luhn_card(f"622202{uuid.uuid4().int % 10**6:06d}", "7788")},
    )
    world.as_(buyer, "consumer", "PUT", f"/v1/me/bank-cards/{card['card_id']}/default")
    body = {"items": [{"sku_id": sku, "quantity": 1}], "payment_method": "bnpl", "address": ADDRESS}
    order = world.as_(buyer, "consumer", "POST", "/v1/checkout", body, idem=True)["orders"][0]
    confirm = {"challenge_id": order["challenge"]["challenge_id"], "password": PASSWORD}
    held = world.as_(buyer, "consumer", "POST", f"/v1/orders/{order['order_id']}/confirmation", confirm, idem=True)
    assert held["status"] == "risk_review", held
    return str(order["order_id"])


def test_a_risk_operator_decides_held_orders_and_one_past_its_time_is_decline_only(
    world: World, console: Console, chromium: Any, stack: str
) -> None:
    from playwright.sync_api import expect

    sku = {"attributes": {"型号": "Pro"}, "price_fen": 40000, "stock": 10}
    made = world.as_(
        "demo-merchant", "merchant", "POST", "/v1/merchant/products", {"name": "平板", "description": "", "skus": [sku]}
    )
    approved, late = (held_for_review(world, made["skus"][0]["sku_id"]) for _ in range(2))

    def past_its_time(route: Any) -> None:
        # The service clock says how long a case waited: this one is past its 30 minutes
        # (the timer that declines it has not run yet).
        page = route.fetch().json()
        for item in page["items"]:
            if item["order_id"] == late:
                item["waiting_seconds"] = 1801
        route.fulfill(json=page)

    console.page.route("**/v1/risk/reviews?*", past_its_time)
    console.sign_in(RISK)
    expect(console.page.get_by_role("heading", name="风控 Risk review")).to_be_focused()
    card = console.card(f"订单 Order {approved}")
    expect(card.get_by_role("table")).to_contain_text("first_order_large")
    card.get_by_role("button", name="查看案件 Open case").click()
    expect(card).to_contain_text(f"{approved} · 风控审核中 risk review")
    expect(card.get_by_role("region", name="收货地址 Delivery address")).to_contain_text(ADDRESS["line1"])
    decisions: list[str] = []
    console.page.on("request", lambda r: decisions.append(r.url) if r.url.endswith("/decision") else None)
    card.get_by_role("textbox", name="备注 Note").fill("已核实 <b>ok</b>")
    card.get_by_role("textbox", name="备注 Note").press("Enter")  # still typing: decides nothing
    card.get_by_role("button", name="放行 Approve").click()
    expect(card.get_by_role("status").last).to_contain_text("已放行 Approved")
    assert len(decisions) == 1, decisions
    assert world.as_("demo-merchant", "merchant", "GET", f"/v1/merchant/orders/{approved}")["status"] == "placed"

    expired = console.card(f"订单 Order {late}")
    expect(expired).to_contain_text("已超时 Time is over: decline only")
    expect(expired.get_by_role("button", name="放行 Approve")).to_have_count(0)
    expired.get_by_role("textbox", name="备注 Note").fill("超时")
    expired.get_by_role("button", name="拒绝 Decline").click()
    expect(expired.get_by_role("status").last).to_contain_text("已拒绝 Declined")

    # Decided cases by status, with who decided and the note as typed.
    console.page.get_by_role("combobox", name="状态 Status").select_option("approved")
    done = console.card(f"订单 Order {approved}")
    expect(done).to_contain_text("demo-risk")
    expect(done).to_contain_text("已核实 <b>ok</b>")
    expect(done.get_by_role("button", name="拒绝 Decline")).to_have_count(0)

    # The block list: add a phone (kept as a keyed hash), then lift it.
    reason = f"欺诈 <b>{uuid.uuid4().hex[:6]}</b>"
    lists = console.page.get_by_role("form", name="加入名单 Add to a list")
    lists.get_by_role("combobox", name="类型 Kind").select_option("phone")
    lists.get_by_role("textbox", name="值 Value").fill("13700000001")
    lists.get_by_role("textbox", name="原因 Reason").fill(reason)
    lists.get_by_role("button", name="加入 Add").click()
    expect(lists.get_by_role("status")).to_contain_text("已加入 Added")
    entry = console.page.get_by_role("list", name="名单 List entries").get_by_role("listitem").filter(has_text=reason)
    expect(entry).to_contain_text("手机 Phone")
    entry.get_by_role("button", name="移除 Remove").click()
    expect(entry).to_have_count(0)
    assert reason not in str(world.as_("demo-risk", "risk", "GET", "/v1/risk/blocklist"))
    assert console.errors == [], console.failed

    phone = Console(chromium, stack, PHONE)  # the reasons and the rates scroll inside their boxes
    try:
        phone.sign_in(RISK)
        expect(phone.page.get_by_role("heading", name=re.compile("决策率"))).to_be_visible()
        assert overflow(phone) == 0
    finally:
        phone.close()


def test_a_merchant_adds_a_webhook_endpoint_sees_each_secret_once_and_the_event_log(
    world: World, console: Console
) -> None:
    from playwright.sync_api import expect

    buyer = world.consumer()
    order = world.placed_order(buyer)
    sent = world.as_(buyer, "consumer", "POST", f"/v1/orders/{order}/messages", {"text": "在吗"})
    world.http.call("POST", "/v1/dev/queue/drain", {})  # the outbox's events, delivered where due
    world.http.call("POST", "/v1/dev/jobs/deliver_webhooks", {})
    console.sign_in(MERCHANT)
    console.page.get_by_role("button", name="开发者 Webhooks").click()
    # An event before any endpoint was sent nowhere: it does not say "delivered".
    before = console.card(f"message.created · message {sent['message_id']}")
    expect(before).to_contain_text("未发送（当时无订阅端点）Not sent: no endpoint subscribed")

    form = console.page.get_by_role("form", name="新端点 New endpoint")
    form.get_by_role("textbox", name="URL").fill("http://10.0.0.1/hook")
    form.get_by_role("button", name="添加 Add endpoint").click()
    expect(form.get_by_role("status")).to_contain_text("https")  # the problem's detail, not [object Object]
    url = f"http://127.0.0.1:9/{uuid.uuid4().hex[:8]}"
    form.get_by_role("textbox", name="URL").fill(url)
    form.get_by_role("button", name="添加 Add endpoint").click()
    first = form.get_by_role("status").filter(has_text="Signing secret, shown once").locator("code")
    expect(first).to_contain_text("whsec_")
    endpoint = console.card(url)
    endpoint.get_by_role("button", name="轮换密钥 Roll secret").click()
    rolled = endpoint.get_by_role("status").locator("code")
    expect(rolled).to_contain_text("whsec_")
    assert rolled.inner_text() != first.inner_text()
    # A replay's "since" is typed in China time, as every time in the console is shown.
    endpoint.get_by_role("textbox", name="重发起始时间 Replay since (UTC+8)").fill("2026-12-08T09:30")
    with console.page.expect_request(lambda r: r.url.endswith("/replay")) as replay:
        endpoint.get_by_role("button", name="重发 Replay").click()
    assert replay.value.post_data_json == {"since": "2026-12-08T01:30:00.000Z"}
    expect(endpoint.get_by_role("status")).to_contain_text("已重发 Replayed")
    mine = world.as_("demo-merchant", "merchant", "GET", "/v1/merchant/webhook-endpoints")["items"]
    (made,) = [e for e in mine if e["url"] == url]
    assert "secret" not in made or not made["secret"]  # shown once: never listed again
    world.as_("demo-merchant", "merchant", "DELETE", f"/v1/merchant/webhook-endpoints/{made['endpoint_id']}")
    assert [e for e in console.errors if "status of 422" not in e] == [], (console.errors, console.failed)
