"""Wallet: the summary, its entries, coupons and redemption (兑现) requests."""

from __future__ import annotations

from ..clock import clock
from ..config import settings
from ..schemas.common import PageQuery
from ..schemas.me import CreditView, WalletView
from ..schemas.wallet import (
    CouponPage,
    CouponsQuery,
    CouponView,
    EntriesQuery,
    EntryPage,
    EntryView,
    RedemptionIn,
    RedemptionPage,
    RedemptionView,
)
from ..services import redemption, wallet
from ..web import CONSUMER, Ctx, Router

router = Router("wallet")


@router.route("/v1/wallet", "GET", roles=CONSUMER, response=WalletView)
def get_wallet(ctx: Ctx) -> WalletView:
    """Credit limit/used/available, cash balance, points and redeemable amount, coupons and 先用后付 status."""
    s = wallet.summary(ctx.user_id, clock.now())
    return WalletView(
        currency=settings().rules.currency,
        bnpl_status=s.bnpl_status,
        credit=credit_view(s),
        cash_balance_fen=s.cash_fen,
        points=s.points,
        points_held=s.points_held,
        redeemable_fen=s.redeemable_fen,
        points_owed=s.points_owed,
        coupons_available=s.coupons_available,
    )


def credit_view(s: wallet.WalletSummary) -> CreditView:
    return CreditView(limit_fen=s.credit_limit_fen, used_fen=s.credit_used_fen, available_fen=s.credit_available_fen)


def entry_view(e: wallet.Entry) -> EntryView:
    points = wallet.unit(e.book) == "points"
    return EntryView(
        event_id=e.event_id,
        kind=e.event_kind,
        book=e.book,
        amount_fen=None if points else int(e.amount),
        points=int(e.amount) if points else None,
        unit="points" if points else "fen",
        posted_at=e.posted_at,
        ref=e.ref,
    )


@router.route("/v1/wallet/entries", "GET", roles=CONSUMER, query=EntriesQuery, response=EntryPage)
def list_wallet_entries(ctx: Ctx) -> EntryPage:
    """The wallet entries behind the balances, newest first; filter by book or event kind."""
    q: EntriesQuery = ctx.query
    items, cursor = wallet.list_entries(ctx.user_id, kind=q.kind, limit=q.limit, cursor=q.cursor)
    return EntryPage(items=[entry_view(e) for e in items], next_cursor=cursor)


def coupon_view(c: wallet.Coupon) -> CouponView:
    return CouponView(
        coupon_id=c.coupon_id,
        title=c.title,
        discount_fen=int(c.discount_fen),
        min_spend_fen=int(c.min_spend_fen),
        expires_at=c.expires_at,
        status=wallet.coupon_status(c, clock.now()),
        issued_at=c.issued_at,
        used_at=c.used_at,
        order_id=c.order_id,
    )


@router.route("/v1/wallet/coupons", "GET", roles=CONSUMER, query=CouponsQuery, response=CouponPage)
def list_coupons(ctx: Ctx) -> CouponPage:
    """The coupons reward rules issued to the user; filter by (computed) status."""
    q: CouponsQuery = ctx.query
    items, cursor = wallet.list_coupons(ctx.user_id, status=q.status, limit=q.limit, cursor=q.cursor, now=clock.now())
    return CouponPage(items=[coupon_view(c) for c in items], next_cursor=cursor)


def redemption_view(r: wallet.Redemption) -> RedemptionView:
    return RedemptionView(
        redemption_id=r.redemption_id,
        status=r.status,
        amount_fen=int(r.amount_fen),
        points=int(r.points),
        reason=r.reason,
        created_at=r.created_at,
        updated_at=r.updated_at,
        decided_at=r.decided_at,
    )


@router.route(
    "/v1/wallet/redemptions",
    "POST",
    roles=CONSUMER,
    body=RedemptionIn,
    response=RedemptionView,
    status=201,
    idempotent=True,
    claim_in_tx=True,
    render=redemption_view,
    errors=redemption.REQUEST_ERRORS,
)
def request_redemption(ctx: Ctx) -> wallet.Redemption:
    """Redeem an amount (or points): the points are held and the request goes to review."""
    body: RedemptionIn = ctx.body
    return redemption.request(
        ctx.user_id, amount_fen=body.amount_fen, points=body.points, now=clock.now(), idem=ctx.idem
    )


@router.route("/v1/wallet/redemptions", "GET", roles=CONSUMER, query=PageQuery, response=RedemptionPage)
def list_redemptions(ctx: Ctx) -> RedemptionPage:
    """The user's redemption requests, newest first."""
    q: PageQuery = ctx.query
    items, cursor = redemption.list_for_user(ctx.user_id, limit=q.limit, cursor=q.cursor)
    return RedemptionPage(items=[redemption_view(r) for r in items], next_cursor=cursor)


@router.route(
    "/v1/wallet/redemptions/{redemption_id}",
    "GET",
    roles=CONSUMER,
    response=RedemptionView,
    errors=redemption.GET_ERRORS,
)
def get_redemption(ctx: Ctx, redemption_id: str) -> RedemptionView:
    """One of the user's redemption requests."""
    return redemption_view(redemption.get_for_user(ctx.user_id, redemption_id))
