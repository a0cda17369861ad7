"""Wallet: the summary."""

from __future__ import annotations

from ..clock import clock
from ..config import settings
from ..schemas.me import CreditView, WalletView
from ..services import wallet
from ..web import CONSUMER, Ctx, Router

router = Router("wallet")


@router.route("/v1/wallet", "GET", roles=CONSUMER, response=WalletView)
def get_wallet(ctx: Ctx) -> WalletView:
    """Credit limit/used/available, cash balance, points, coupons and 先用后付 status."""
    s = wallet.summary(ctx.user_id, clock.now())
    return WalletView(
        currency=settings().rules.currency,
        bnpl_status=s.bnpl_status,
        credit=CreditView(
            limit_fen=s.credit_limit_fen, used_fen=s.credit_used_fen, available_fen=s.credit_available_fen
        ),
        cash_balance_fen=s.cash_fen,
        points=s.points,
        points_held=s.points_held,
        redeemable_fen=s.redeemable_fen,
        coupons_available=s.coupons_available,
    )
