"""Me: profile, real-name verification, bank cards, payment password, devices."""

from __future__ import annotations

from .. import pagination
from ..clock import clock
from ..schemas.common import ShortListQuery
from ..schemas.me import (
    BankCardIn,
    BankCardList,
    BankCardView,
    BnplView,
    DeviceIn,
    DeviceView,
    IdentityIn,
    IdentityView,
    MeView,
    PasswordIn,
    PasswordView,
)
from ..services import accounts, devices
from ..web import ANY_ROLE, CONSUMER, Ctx, Router

router = Router("me")


def me_view(user: accounts.User) -> MeView:
    return MeView(
        user_id=user.user_id,
        created_at=user.created_at,
        identity=IdentityView(
            verified=bool(user.verified_at),
            real_name_masked=user.real_name_masked,
            id_number_masked=user.id_number_masked,
            verified_at=user.verified_at,
        ),
        bnpl=BnplView(
            status=user.bnpl_status, agreement_version=user.agreement_version, activated_at=user.activated_at
        ),
        has_payment_password=bool(user.password_hash),
        payment_password_locked_until=user.password_locked_until,
        default_card_id=user.default_card_id,
    )


def card_view(card: accounts.BankCard) -> BankCardView:
    return BankCardView(
        card_id=card.card_id,
        last4=card.last4,
        bank=card.bank,
        is_default=bool(card.is_default),
        created_at=card.created_at,
    )


@router.route("/v1/me", "GET", roles=ANY_ROLE, response=MeView)
def get_me(ctx: Ctx) -> MeView:
    """The caller's profile: masked identity, 先用后付 status, password and card state."""
    return me_view(accounts.get_or_create(ctx.user_id, clock.now()))


@router.route(
    "/v1/me/identity",
    "POST",
    roles=CONSUMER,
    body=IdentityIn,
    response=MeView,
    errors=accounts.IDENTITY_ERRORS,
)
def submit_identity(ctx: Ctx) -> MeView:
    """Real-name verification (实名认证): name and resident ID number."""
    body: IdentityIn = ctx.body
    return me_view(accounts.verify_identity(ctx.user_id, body.real_name, body.id_number, clock.now()))


@router.route(
    "/v1/me/bank-cards",
    "POST",
    roles=CONSUMER,
    body=BankCardIn,
    response=BankCardView,
    status=201,
    errors=accounts.ADD_CARD_ERRORS,
    claim_in_tx=True,
    render=card_view,
)
def add_bank_card(ctx: Ctx) -> accounts.BankCard:
    """Bind a bank card (stored as a gateway token and the last four digits)."""
    body: BankCardIn = ctx.body
    return accounts.add_card(ctx.user_id, body.card_number, clock.now(), idem=ctx.idem)


@router.route("/v1/me/bank-cards", "GET", roles=CONSUMER, query=ShortListQuery, response=BankCardList)
def list_bank_cards(ctx: Ctx) -> BankCardList:
    """The caller's bound cards, masked (`limit` pages them; without it, all of them)."""
    q: ShortListQuery = ctx.query
    cards, next_cursor = pagination.page_list(
        accounts.list_cards(ctx.user_id), q.limit, q.cursor, f"cards:{ctx.user_id}"
    )
    return BankCardList(items=[card_view(c) for c in cards], next_cursor=next_cursor)


@router.route(
    "/v1/me/bank-cards/{card_id}",
    "DELETE",
    roles=CONSUMER,
    status=204,
    errors=accounts.REMOVE_CARD_ERRORS,
)
def remove_bank_card(ctx: Ctx, card_id: str) -> None:
    """Unbind a card (not the auto-debit card of unpaid 先用后付 orders)."""
    accounts.remove_card(ctx.user_id, card_id, clock.now())


@router.route(
    "/v1/me/bank-cards/{card_id}/default",
    "PUT",
    roles=CONSUMER,
    response=BankCardView,
    errors=accounts.DEFAULT_CARD_ERRORS,
    claim_in_tx=True,
    render=card_view,
)
def set_default_bank_card(ctx: Ctx, card_id: str) -> accounts.BankCard:
    """Choose the card the 先用后付 window's close charges (auto-debit)."""
    return accounts.set_default_card(ctx.user_id, card_id, idem=ctx.idem)


@router.route(
    "/v1/me/payment-password",
    "PUT",
    roles=CONSUMER,
    body=PasswordIn,
    response=PasswordView,
    errors=accounts.PASSWORD_ERRORS,
    claim_in_tx=True,
    render=lambda _user: PasswordView(has_payment_password=True),
)
def set_payment_password(ctx: Ctx) -> accounts.User:
    """Set or change the 6-digit payment password."""
    body: PasswordIn = ctx.body
    return accounts.set_password(ctx.user_id, body.password, body.old_password, clock.now(), idem=ctx.idem)


@router.route(
    "/v1/me/devices",
    "POST",
    roles=CONSUMER,
    body=DeviceIn,
    response=DeviceView,
    status=201,
    errors=devices.DEVICE_ERRORS,
    claim_in_tx=True,
    render=lambda device: DeviceView(device_id=device.device_id, created_at=device.created_at),
)
def register_device(ctx: Ctx) -> devices.Device:
    """Register a device key (ECDSA P-256) for fingerprint/face confirmation: a step-up that
    takes the payment password (5 wrong tries lock it, as for confirmation)."""
    body: DeviceIn = ctx.body
    return devices.register_device(
        ctx.user_id, body.device_id, body.public_key_pem, body.password, clock.now(), idem=ctx.idem
    )
