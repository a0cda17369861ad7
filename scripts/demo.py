"""`make demo`: walk the guide's whole story over HTTP against the running local stack.

Start `make run` in another terminal first (with the same `PORT`, if you chose one).
Every run uses a fresh consumer, so it can be repeated; the service clock is moved forward
(it stays moved until `make run` restarts).
"""

from __future__ import annotations

import base64
import json
import sys
import time
import uuid
from typing import Any

import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from chalicelib.local.ports import api_base

API = api_base()  # PORT, as `make run` reads it
ID_NUMBER = "11010519491231002X"
CARD = "6222020200112233446"
ADDRESS = {"name": "小明", "phone": "13800138000", "line1": "中关村大街 1 号", "city": "北京"}


class StoryError(RuntimeError):
    pass


def step(title: str) -> None:
    print(f"\n\033[1m== {title}\033[0m")


def say(text: str) -> None:
    print(f"   {text}")


class Client:
    def __init__(self, sub: str, roles: list[str]) -> None:
        r = requests.post(f"{API}/v1/dev/tokens", json={"sub": sub, "roles": roles}, timeout=10)
        if r.status_code != 201:
            raise StoryError(f"could not mint a token for {sub}: {r.status_code} {r.text}")
        self.sub = sub
        self.headers = {"Authorization": f"Bearer {r.json()['token']}", "Content-Type": "application/json"}

    def call(
        self, method: str, path: str, body: Any = None, *, idem: bool = False, ok: tuple[int, ...] = (200, 201, 204)
    ) -> Any:
        headers = dict(self.headers)
        if idem:
            headers["Idempotency-Key"] = f"demo-{uuid.uuid4().hex}"
        r = requests.request(
            method, f"{API}{path}", headers=headers, data=json.dumps(body) if body is not None else None, timeout=30
        )
        if r.status_code not in ok:
            raise StoryError(f"{method} {path} → {r.status_code}: {r.text}")
        return r.json() if r.content else None


def dev(path: str, body: Any = None) -> Any:
    r = requests.post(f"{API}{path}", json=body if body is not None else {}, timeout=60)
    if r.status_code >= 300:
        raise StoryError(f"POST {path} → {r.status_code}: {r.text}")
    return r.json()


def yuan(fen: int) -> str:
    return f"¥{fen // 100}.{fen % 100:02d}"


def wallet_line(c: Client) -> str:
    w = c.call("GET", "/v1/wallet")
    cr = w["credit"]
    return (
        f"credit {yuan(cr['used_fen'])} used of {yuan(cr['limit_fen'])} (available {yuan(cr['available_fen'])}), "
        f"cash {yuan(w['cash_balance_fen'])}, points {w['points']}, 先用后付 {w['bnpl_status']}"
    )


def buy(c: Client, sku_id: str, qty: int, *, device: tuple[str, Any] | None = None) -> dict[str, Any]:
    c.call("PUT", f"/v1/cart/items/{sku_id}", {"quantity": qty, "selected": True})
    cart = c.call("GET", "/v1/cart")
    say(f"cart: {len(cart['items'])} line(s), selected total {yuan(cart.get('selected_total_fen', 0))}")
    checkout = c.call(
        "POST", "/v1/checkout", {"from_cart": True, "payment_method": "bnpl", "address": ADDRESS}, idem=True
    )
    order = checkout["orders"][0]
    say(f"checkout → order {order['order_id']} {order['status']}, total {yuan(order['total_fen'])}")
    challenge = order["challenge"]
    if device:
        device_id, key = device
        signature = key.sign(challenge["nonce"].encode(), ec.ECDSA(hashes.SHA256()))
        body = {
            "challenge_id": challenge["challenge_id"],
            "device_id": device_id,
            "signature": base64.b64encode(signature).decode(),
        }
        how = "fingerprint/face (device signature)"
    else:
        body = {"challenge_id": challenge["challenge_id"], "password": "135790"}
        how = "payment password"
    confirmed = c.call("POST", f"/v1/orders/{order['order_id']}/confirmation", body, idem=True)
    say(f"confirmed with {how} → {confirmed['status']}, credit reserved {yuan(confirmed['credit_reserved_fen'])}")
    return order


def main() -> None:
    try:
        requests.get(f"{API}/v1/health", timeout=5).raise_for_status()
    except requests.RequestException:
        sys.exit(f"PayLater is not answering on {API}: start `make run` in another terminal first.")

    name = f"xiaoming-{uuid.uuid4().hex[:6]}"
    me = Client(name, ["consumer"])
    shop = Client("demo-merchant", ["merchant"])
    reviewer = Client("demo-reviewer", ["reviewer"])

    step(f"开通 先用后付 — {name} opens Wallet → 先用后付")
    ident = me.call("POST", "/v1/me/identity", {"real_name": "王小明", "id_number": ID_NUMBER}, ok=(200, 409))
    if isinstance(ident, dict) and ident.get("code") == "id_number_in_use":
        # The demo ID number is taken by an earlier run: use a fresh valid one.
        first17 = f"110105{1980 + uuid.uuid4().int % 20}0101{uuid.uuid4().int % 900 + 100:03d}"
        weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
        number = first17 + "10X98765432"[sum(int(d) * w for d, w in zip(first17, weights, strict=True)) % 11]
        ident = me.call("POST", "/v1/me/identity", {"real_name": "王小明", "id_number": number})
    say(f"实名认证: {ident['identity']['real_name_masked']} {ident['identity']['id_number_masked']}")
    card = me.call("POST", "/v1/me/bank-cards", {"card_number": CARD})
    say(f"bank card bound: {card['bank']} ****{card['last4']} (default for auto-debit)")
    me.call("PUT", "/v1/me/payment-password", {"password": "135790"})
    say("payment password set (6 digits, scrypt-hashed)")
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    me.call(
        "POST", "/v1/me/devices", {"device_id": "xiaoming-phone", "public_key_pem": pem.decode(), "password": "135790"}
    )
    say("device key registered for fingerprint/face confirmation (a step-up: the payment password)")
    agreement = me.call("GET", "/v1/bnpl/agreement")
    say(f"agreement {agreement['version']}: {agreement['title']}")
    me.call("POST", "/v1/bnpl/activation", {"agreement_version": agreement["version"]})
    say(wallet_line(me))

    step("第一步 选择商品 — browse and open a product")
    products = me.call("GET", "/v1/products?limit=10")["items"]
    for p in products[:4]:
        say(f"{p['product_id']}: {p['name']}")
    product = me.call("GET", f"/v1/products/{products[0]['product_id']}")
    sku = product["skus"][0]
    say(
        f"{product['name']}: {len(product['skus'])} SKU(s); {sku['attributes']} {yuan(sku['price_fen'])}, "
        f"stock {sku['stock']}"
    )

    step("第二步 下单付款 — cart, checkout with 先用后付, confirm")
    order = buy(me, sku["sku_id"], 1, device=("xiaoming-phone", key))
    order_id = order["order_id"]
    say(wallet_line(me))

    step("商家发货 — the merchant ships")
    shipped = shop.call(
        "POST", f"/v1/merchant/orders/{order_id}/shipment", {"carrier": "顺丰", "tracking_number": "SF1234567890"}
    )
    say(f"order {order_id} → {shipped['status']}")

    step("第三步 收货验收 — receipt opens the payment window")
    received = me.call("POST", f"/v1/orders/{order_id}/receipt")
    say(f"order → {received['status']}, pay by {received['due_at']}")
    settlements = shop.call("GET", "/v1/merchant/settlements")
    say(f"the merchant's payable is now {yuan(settlements['payable_fen'])} (every order it is owed for, less fees)")

    step("第四步 评价 — review the goods")
    review = me.call("POST", f"/v1/orders/{order_id}/review", {"rating": 5, "text": "质量不错，很满意！"})
    say(f"review: {review['items'][0]['rating']}★ “{review['items'][0]['text']}”")
    page = me.call("GET", f"/v1/products/{product['product_id']}")
    say(f"product page: {page['reviews']['count']} review(s), average {page['reviews']['average']}")

    step("付款窗口关闭 — advance the clock 7 days; the window closes and the card is charged")
    clock = dev("/v1/dev/clock", {"advance_seconds": 7 * 86400 + 60})
    say(f"service clock now {clock['now']}")
    result = dev("/v1/dev/jobs/close_payment_windows")
    say(f"close_payment_windows: {result['result']}")
    final = me.call("GET", f"/v1/orders/{order_id}")
    say(f"order → {final['status']}")
    say(wallet_line(me))

    step("兑现 — redeem points to the wallet balance, reviewed")
    w = me.call("GET", "/v1/wallet")
    amount = min(w["redeemable_fen"], 5000) or w["points"] * 100 // 100
    redemption = me.call("POST", "/v1/wallet/redemptions", {"amount_fen": amount}, idem=True)
    say(f"redemption {redemption['redemption_id']} for {yuan(amount)} → {redemption['status']} (points held)")
    # The stack's own queue worker may take the message first: drain, then wait for the review.
    for _ in range(20):
        dev("/v1/dev/queue/drain")
        redemption = me.call("GET", f"/v1/wallet/redemptions/{redemption['redemption_id']}")
        if redemption["status"] != "pending":
            break
        time.sleep(0.5)
    say(f"after review queue → {redemption['status']}")
    if redemption["status"] == "manual_review":
        reviewer.call(
            "POST",
            f"/v1/review/redemptions/{redemption['redemption_id']}/decision",
            {"decision": "approve", "note": "demo"},
            idem=True,
        )
        redemption = me.call("GET", f"/v1/wallet/redemptions/{redemption['redemption_id']}")
        say(f"reviewer approved → {redemption['status']}")
    say(wallet_line(me))
    notes = me.call("GET", "/v1/me/notifications")
    latest = notes["items"][0]["title"] if notes["items"] else "-"
    say(f"notifications: {notes.get('unread_count')} unread; latest: {latest}")

    step("退货 — the return path on a second order")
    second = buy(me, sku["sku_id"], 1)
    shop.call(
        "POST",
        f"/v1/merchant/orders/{second['order_id']}/shipment",
        {"carrier": "顺丰", "tracking_number": "SF0987654321"},
    )
    me.call("POST", f"/v1/orders/{second['order_id']}/receipt")
    say(wallet_line(me))
    request = me.call("POST", f"/v1/orders/{second['order_id']}/return-requests", {"reason": "颜色和图片不一样"})
    say(f"return requested: {request['request_id']} for {yuan(request['amount_fen'])}")
    decided = shop.call(
        "POST",
        f"/v1/merchant/return-requests/{request['request_id']}/decision",
        {"decision": "approve", "note": "同意退货"},
    )
    say(f"merchant → {decided['status']}")
    back = me.call("GET", f"/v1/orders/{second['order_id']}")
    say(f"order → {back['status']}; credit released, nothing charged")
    say(wallet_line(me))
    print("\nThe story is complete.")


if __name__ == "__main__":
    try:
        main()
    except StoryError as err:
        sys.exit(f"\nthe story stopped: {err}")
