"""PIPL rights: download everything held about me, close my account."""

from __future__ import annotations

from .. import errors, pagination
from ..clock import clock, iso
from ..schemas.privacy import ClosureView, DataExportView, ExportQuery, ExportSectionPage, ExportSectionQuery
from ..services import privacy
from ..web import CONSUMER, Ctx, Router

router = Router("privacy")
ANY_ROLE = ("consumer", "merchant", "reviewer")
ERASED = ["real_name", "id_number", "payment_password", "bank_cards", "devices", "addresses", "cart", "notifications"]


@router.route("/v1/me/data-export", "GET", roles=ANY_ROLE, query=ExportQuery, response=DataExportView)
def data_export(ctx: Ctx) -> DataExportView:
    """Everything held about the caller as JSON, page by page (ID and card numbers masked)."""
    q: ExportQuery = ctx.query
    scope = f"export:{ctx.user_id}"
    start = pagination.decode(q.cursor, scope) or {"section": 0, "key": None}
    section, key = start.get("section"), start.get("key")
    if type(section) is not int or section < 0 or not (key is None or isinstance(key, dict)):
        raise errors.bad_request("invalid_cursor", "the cursor is not one this list issued")
    data, following = privacy.export_page(ctx.user_id, section, key, q.limit)
    cursor = None
    if following is not None:
        cursor = pagination.encode({"section": following[0], "key": following[1]}, scope)
    return DataExportView(user_id=ctx.user_id, generated_at=iso(clock.now()), sections=data, next_cursor=cursor)


@router.route(
    "/v1/me/data-export/{section}",
    "GET",
    roles=ANY_ROLE,
    query=ExportSectionQuery,
    response=ExportSectionPage,
)
def data_export_section(ctx: Ctx, section: str) -> ExportSectionPage:
    """One section of the export (`profile`, `orders`, `wallet_entries`, …), paged like every
    list: `limit`, then `next_cursor` until it is null. An unknown section is a 404."""
    q: ExportSectionQuery = ctx.query
    scope = f"export:{ctx.user_id}:{section}"
    items, last_key = privacy.section_page(ctx.user_id, section, pagination.decode(q.cursor, scope), q.limit)
    return ExportSectionPage(section=section, items=items, next_cursor=pagination.encode(last_key, scope))


def closure_view(user: privacy.User) -> ClosureView:
    assert user.closed_at and user.retention_until
    return ClosureView(
        user_id=user.user_id, closed_at=user.closed_at, retention_until=user.retention_until, erased=ERASED
    )


@router.route(
    "/v1/me/closure",
    "POST",
    roles=CONSUMER,
    response=ClosureView,
    errors=privacy.CLOSE_ERRORS,
    claim_in_tx=True,
    render=closure_view,
)
def close_account(ctx: Ctx) -> privacy.User:
    """Close the account (refused, naming each open item, until nothing is open)."""
    return privacy.close(ctx.user_id, clock.now(), idem=ctx.idem)
