"""The mobile app's view: a client generated from the served OpenAPI document walks the
whole story, and nothing else talks to the API here."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from chalice.test import Client

from tests.conftest import ADULT_ID, new_key
from tests.support.generated_client import ChaliceTransport, Generated, generate

ADDRESS = {"name": "张三", "phone": "13800138000", "line1": "建国路 1 号", "city": "北京"}


@pytest.fixture(scope="module")
def chalice_client(app_module: Any) -> Iterator[Client]:
    with Client(app_module.app) as client:
        yield client


@pytest.fixture(scope="module")
def generator_output(chalice_client: Client, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    resp = chalice_client.http.get("/v1/openapi.json")
    assert resp.status_code == 200
    import json

    where = tmp_path_factory.mktemp("generated")
    return where, generate(json.loads(resp.body), where)


@pytest.fixture
def gen(chalice_client: Client, generator_output: tuple[Path, list[str]]) -> Generated:
    return Generated(generator_output[0], ChaliceTransport(chalice_client))


def test_the_generator_takes_every_operation_without_a_warning(
    generator_output: tuple[Path, list[str]], chalice_client: Client
) -> None:
    where, lines = generator_output
    assert lines == [f"Generating {where / 'paylater_client'}"], lines
    import json

    doc = json.loads(chalice_client.http.get("/v1/openapi.json").body)
    operations = {op["operationId"] for item in doc["paths"].values() for op in item.values()}
    generated = {p.stem for p in (where / "paylater_client" / "api").glob("*/*.py")} - {"__init__"}
    assert generated == operations


def token(gen: Generated, sub: str, role: str) -> str:
    body = gen.models.TokenIn(sub=sub, roles=[gen.models.TokenInRolesItem(role)])
    return str(gen.call("issue_token", client=gen.anonymous(), body=body).token)


def test_the_whole_story_through_the_generated_client(gen: Generated) -> None:
    m = gen.models
    merchant = gen.as_(token(gen, "m-gen-shop", "merchant"))
    me = gen.as_(token(gen, "u-gen-1", "consumer"))
    dev = gen.anonymous()

    product = gen.call(
        "create_product",
        client=merchant,
        body=m.ProductIn.from_dict(
            {"name": "耳机", "skus": [{"attributes": {"颜色": "白色"}, "price_fen": 30000, "stock": 5}]}
        ),
    )
    sku_id = product.skus[0].sku_id

    # 开通: real name, a card, the payment password, the agreement.
    gen.call("submit_identity", client=me, body=m.IdentityIn(real_name="张三", id_number=ADULT_ID))
    gen.call("add_bank_card", client=me, body=m.BankCardIn(card_number="6222020200112233446"))
    gen.call("set_payment_password", client=me, body=m.PasswordIn(password="135790"))
    agreement = gen.call("get_agreement", client=me)
    activated = gen.call("activate_bnpl", client=me, body=m.ActivationIn(agreement_version=agreement.version))
    assert activated.status == m.BnplStatus.ACTIVE and activated.credit.available_fen == activated.credit.limit_fen
    assert isinstance(activated.activated_at, datetime)

    # 第一步/第二步: buy now with 先用后付, confirm with the payment password.
    checkout = gen.call(
        "create_checkout",
        client=me,
        body=m.CheckoutItemsIn(
            items=[m.LineIn(sku_id=sku_id, quantity=1)],
            payment_method=m.PaymentMethod.BNPL,
            address=m.AddressIn.from_dict(ADDRESS),
        ),
        idempotency_key=new_key(),
    )
    order = checkout.orders[0]
    assert order.status == m.OrderStatus.AWAITING_CONFIRMATION
    body = m.PasswordConfirmationIn(challenge_id=order.challenge.challenge_id, password="135790")
    confirmed = gen.call("confirm_order", order.order_id, client=me, body=body, idempotency_key=new_key())
    assert confirmed.status == m.OrderStatus.PLACED
    # The same challenge again: a typed problem whose code is one of the operation's enum.
    again = gen.op("confirm_order")(order.order_id, client=me, body=body, idempotency_key=new_key())
    assert again.status_code == 409 and isinstance(again.parsed, m.Problem)  # every error is one Problem
    assert m.ConfirmOrderResponse409Code(again.parsed.code) == m.ConfirmOrderResponse409Code.CHALLENGE_USED

    # 第三步: shipped, received; the payment window opens.
    shipment = m.ShipmentIn(carrier="SF", tracking_number="SF1234567890")
    gen.call("ship_order", order.order_id, client=merchant, body=shipment)
    received = gen.call("confirm_receipt", order.order_id, client=me)
    assert received.status == m.OrderStatus.RECEIVED
    assert isinstance(received.due_at, datetime)

    # The window closes: the default card pays; points for paying on time.
    gen.call("advance_clock", client=dev, body=m.ClockIn(advance_seconds=7 * 86400 + 60))
    gen.call("run_job", "close_payment_windows", client=dev)
    paid = gen.call("get_order", order.order_id, client=me)
    assert (paid.status, paid.paid_channel, paid.paid_on_time) == (m.OrderStatus.PAID, "card", True)
    wallet = gen.call("get_wallet", client=me)
    assert wallet.points == 300 and wallet.credit.used_fen == 0

    # 兑现: redeem ¥3, reviewed on the queue, credited to the wallet.
    redemption = gen.call(
        "request_redemption", client=me, body=m.RedemptionAmountIn(amount_fen=300), idempotency_key=new_key()
    )
    gen.call("drain_queues", client=dev)
    decided = gen.call("get_redemption", redemption.redemption_id, client=me)
    assert decided.status == m.RedemptionStatus.APPROVED, decided.reason
    assert gen.call("get_wallet", client=me).cash_balance_fen == 300
    kinds = {e.kind for e in gen.call("list_wallet_entries", client=me).items}
    assert {m.EventKind.POINTS_EARNED, m.EventKind.REDEMPTION_CREDITED} <= kinds

    # 第四步: the review, on the product page.
    gen.call("review_order", order.order_id, client=me, body=m.ReviewIn(rating=5, text="很好用"))
    assert gen.call("get_product", product.product_id, client=me).reviews.count == 1
    notes = gen.call("list_notifications", client=me)
    assert m.NotificationKind.PAYMENT_SUCCEEDED in {n.kind for n in notes.items}


def buy_and_confirm(gen: Generated, me: Any, sku: str, method: str) -> Any:
    """Buy one unit now with `method` and confirm with the password: the confirmation."""
    m = gen.models
    checkout = gen.call(
        "create_checkout",
        client=me,
        body=m.CheckoutItemsIn.from_dict(
            {"items": [{"sku_id": sku, "quantity": 1}], "payment_method": method, "address": ADDRESS}
        ),
        idempotency_key=new_key(),
    )
    order = checkout.orders[0]
    body = m.PasswordConfirmationIn(challenge_id=order.challenge.challenge_id, password="135790")
    return gen.call("confirm_order", order.order_id, client=me, body=body, idempotency_key=new_key())


def test_a_new_account_redeems_through_a_reviewer_with_the_generated_client(gen: Generated) -> None:
    m = gen.models
    merchant = gen.as_(token(gen, "m-gen-shop-2", "merchant"))
    me = gen.as_(token(gen, "u-gen-2", "consumer"))
    reviewer = gen.as_(token(gen, "r-gen-1", "reviewer"))
    product = gen.call(
        "create_product",
        client=merchant,
        body=m.ProductIn.from_dict({"name": "茶", "skus": [{"price_fen": 10000, "stock": 5}]}),
    )
    gen.call("submit_identity", client=me, body=m.IdentityIn(real_name="张三", id_number=ADULT_ID))
    gen.call("add_bank_card", client=me, body=m.BankCardIn(card_number="6222020200112233446"))
    gen.call("set_payment_password", client=me, body=m.PasswordIn(password="135790"))
    agreement = gen.call("get_agreement", client=me)
    gen.call("activate_bnpl", client=me, body=m.ActivationIn(agreement_version=agreement.version))
    sku = product.skus[0].sku_id
    card = buy_and_confirm(gen, me, sku, "card")
    assert isinstance(card.payment, m.PayNowPayment) and card.payment.pay_now.endswith("/payments")
    alipay = buy_and_confirm(gen, me, sku, "alipay")
    assert isinstance(alipay.payment, m.AlipayPayment) and alipay.payment.order_string

    # A 先用后付 order paid early by card, in its window: points at once, on a day-old account.
    order_id = buy_and_confirm(gen, me, sku, "bnpl").order_id
    gen.call("ship_order", order_id, client=merchant, body=m.ShipmentIn(carrier="SF", tracking_number="SF0001"))
    gen.call("confirm_receipt", order_id, client=me)
    paid = gen.call("pay_now", order_id, client=me, body=m.PayNowIn(channel=m.Channel.CARD), idempotency_key=new_key())
    assert (paid.status, paid.order_status) == (m.PaymentStatus.SUCCEEDED, m.OrderStatus.PAID)

    redemption = gen.call(
        "request_redemption", client=me, body=m.RedemptionPointsIn(points=100), idempotency_key=new_key()
    )
    gen.call("drain_queues", client=gen.anonymous())
    held = gen.call("list_redemptions_for_review", client=reviewer)
    assert [r.redemption_id for r in held.items] == [redemption.redemption_id]
    assert held.items[0].reason == "account_too_new"
    decided = gen.call(
        "decide_redemption",
        redemption.redemption_id,
        client=reviewer,
        body=m.RedemptionDecisionIn(decision=m.Decision.APPROVE, note="ok"),
        idempotency_key=new_key(),
    )
    assert decided.status == m.RedemptionStatus.APPROVED
    assert [h.status for h in decided.history][-1] == "approved"
    assert gen.call("get_wallet", client=me).cash_balance_fen == 100


def test_each_enum_is_one_class_in_the_generated_client(generator_output: tuple[Path, list[str]]) -> None:
    """A named set (OrderStatus, PaymentMethod, Channel, ...) is one enum class, not one per field."""
    import ast
    import re

    PROBLEM_CODES = re.compile(r"^[A-Za-z0-9]+(Response\d{3}|Problem)Code$")

    where, _ = generator_output
    enums: dict[frozenset[str], list[str]] = {}
    for path in (where / "paylater_client" / "models").glob("*.py"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ClassDef) and any(
                getattr(b, "id", "") in ("Enum", "StrEnum", "IntEnum") for b in node.bases
            ):
                values = frozenset(
                    str(s.value.value)
                    for s in node.body
                    if isinstance(s, ast.Assign) and isinstance(s.value, ast.Constant)
                )
                enums.setdefault(values, []).append(node.name)
    # An operation's problem codes are its own set (`<Operation>Response<status>Code`), kept
    # under that name even when another operation declares the same codes: a code added to
    # one operation then changes one enum, and renames none.
    repeated = {
        names[0]: names for names in enums.values() if len([n for n in names if not PROBLEM_CODES.match(n)]) > 1
    }
    assert repeated == {}, repeated
    named = {name for names in enums.values() for name in names}
    assert {"OrderStatus", "PaymentMethod", "Channel", "PaymentStatus"} <= named


def test_every_error_is_the_one_problem_class_and_each_enum_is_generated_once(
    generator_output: tuple[Path, list[str]], chalice_client: Client
) -> None:
    """One global error handler: every operation parses each of its error statuses as
    `Problem` (the document narrows `code` beside the `$ref`, chalicelib/openapi.py
    `problem_schema`), and the operation's codes are still an enum of their own — each enum
    of the document exactly one class, no copy made for a field or a response."""
    import ast
    import json
    import re

    where, _ = generator_output
    package = where / "paylater_client"
    parsed_as: dict[str, set[str]] = {}
    for module in (package / "api").glob("*/*.py"):
        text = module.read_text(encoding="utf-8")
        for status, cls in re.findall(r"status_code == (\d+):\n\s+response_\d+ = (\w+)\.from_dict", text):
            if int(status) >= 400:
                parsed_as.setdefault(cls, set()).add(module.stem)
    assert set(parsed_as) == {"Problem"}, {cls: sorted(ops)[:3] for cls, ops in parsed_as.items()}
    doc = json.loads(chalice_client.http.get("/v1/openapi.json").body)
    operations = {op["operationId"] for item in doc["paths"].values() for op in item.values()}
    assert len(parsed_as["Problem"]) == len(operations) - len(
        [op for item in doc["paths"].values() for op in item.values() if not op.get("responses", {}).get("400")]
    )

    problem_fields = {"type_", "title", "status", "code", "detail", "request_id"}
    shaped_like_problem, enum_classes = [], []
    for path in (package / "models").glob("*.py"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if not isinstance(node, ast.ClassDef):
                continue
            if any(getattr(b, "id", "") in ("Enum", "StrEnum", "IntEnum") for b in node.bases):
                enum_classes.append(node.name)
            fields = {s.target.id for s in node.body if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)}
            if problem_fields <= fields:
                shaped_like_problem.append(node.name)
    assert shaped_like_problem == ["Problem"]
    named_enums = {name for name, schema in doc["components"]["schemas"].items() if "enum" in schema}
    # Each named enum is one class; the others are one field's own values (DeliveryViewState),
    # and no two classes hold the same values (test_each_enum_is_one_class_in_the_generated_client).
    assert len(enum_classes) == len(set(enum_classes)) and named_enums <= set(enum_classes)
    assert "ConfirmOrderResponse409Code" in named_enums and "NotFoundProblemCode" in named_enums
