"""Merchant payouts: where to be paid, and what was paid (T+1)."""

from __future__ import annotations

from .. import errors, pagination
from ..clock import clock
from ..schemas.common import PageQuery
from ..schemas.payouts import PayoutAccountIn, PayoutAccountView, PayoutEntryView, PayoutList, PayoutView
from ..services import payouts
from ..web import MERCHANT, Ctx, Router

router = Router("payouts")


def payout_view(x: payouts.Payout) -> PayoutView:
    return PayoutView(
        payout_id=x.payout_id,
        amount_fen=int(x.amount_fen),
        currency=x.currency,
        status=x.status,
        cutoff=x.cutoff,
        last4=x.last4,
        bank=x.bank,
        entries=[PayoutEntryView(**e) for e in x.entries or []],
        entry_count=int(x.entry_count or 0),
        failure_reason=x.failure_code,
        created_at=x.created_at,
        settled_at=x.settled_at,
    )


def account_view(account: payouts.PayoutAccount) -> PayoutAccountView:
    return PayoutAccountView(
        account_name_masked=account.account_name_masked,
        last4=account.last4,
        bank=account.bank,
        updated_at=account.updated_at,
    )


@router.route(
    "/v1/merchant/payout-account",
    "PUT",
    roles=MERCHANT,
    body=PayoutAccountIn,
    response=PayoutAccountView,
    errors=payouts.SET_ACCOUNT_ERRORS,
    claim_in_tx=True,
    render=account_view,
)
def put_payout_account(ctx: Ctx) -> payouts.PayoutAccount:
    """Set the bank account payouts go to (kept as a gateway token; never shown in full)."""
    body: PayoutAccountIn = ctx.body
    return payouts.set_account(
        ctx.user_id, body.account_name, body.account_number, body.bank, clock.now(), idem=ctx.idem
    )


@router.route(
    "/v1/merchant/payout-account",
    "GET",
    roles=MERCHANT,
    response=PayoutAccountView,
    errors={404: ["payout_account_not_found"]},
)
def get_payout_account(ctx: Ctx) -> PayoutAccountView:
    """The account on file: bank, last four digits and the masked name (404 before one is set)."""
    account = payouts.get_account(ctx.user_id)
    if account is None:
        raise errors.not_found("payout_account_not_found", "no payout account is set yet")
    return account_view(account)


@router.route("/v1/merchant/payouts", "GET", roles=MERCHANT, query=PageQuery, response=PayoutList)
def list_payouts(ctx: Ctx) -> PayoutList:
    """The merchant's payouts, newest first: amount, status, the entries each covers."""
    q: PageQuery = ctx.query
    scope = f"payouts:{ctx.user_id}"
    items, last_key = payouts.list_payouts(ctx.user_id, q.limit, pagination.decode(q.cursor, scope))
    return PayoutList(
        payable_fen=payouts.payable_of(ctx.user_id),
        items=[payout_view(x) for x in items],
        next_cursor=pagination.encode(last_key, scope),
    )
