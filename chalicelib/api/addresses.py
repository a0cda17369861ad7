"""Me: the address book."""

from __future__ import annotations

from .. import pagination
from ..clock import clock
from ..schemas.addresses import AddressBookView, SavedAddressIn, SavedAddressView
from ..schemas.common import ShortListQuery
from ..services import addresses
from ..web import CONSUMER, Ctx, Router

router = Router("me")


def address_view(address: addresses.Address, default_address_id: str | None) -> SavedAddressView:
    return SavedAddressView(
        address_id=address.address_id,
        **address.fields(),
        is_default=address.address_id == default_address_id,
        created_at=address.created_at,
        updated_at=address.updated_at,
    )


def _fields(body: SavedAddressIn) -> dict[str, str]:
    return body.model_dump(exclude={"is_default"})


def saved_view(saved: addresses.Saved) -> SavedAddressView:
    return address_view(saved.address, saved.default_address_id)


@router.route("/v1/me/addresses", "GET", roles=CONSUMER, query=ShortListQuery, response=AddressBookView)
def list_addresses(ctx: Ctx) -> AddressBookView:
    """The caller's saved addresses (at most 20), oldest first, and the default (`limit`
    pages them like every list; without it, all of them)."""
    q: ShortListQuery = ctx.query
    book = addresses.book(ctx.user_id, clock.now())
    page, next_cursor = pagination.page_list(book.items, q.limit, q.cursor, f"addresses:{ctx.user_id}")
    return AddressBookView(
        items=[address_view(a, book.default_address_id) for a in page],
        default_address_id=book.default_address_id,
        next_cursor=next_cursor,
    )


@router.route(
    "/v1/me/addresses",
    "POST",
    roles=CONSUMER,
    body=SavedAddressIn,
    response=SavedAddressView,
    status=201,
    errors=addresses.ADD_ERRORS,
    claim_in_tx=True,
    render=saved_view,
)
def add_address(ctx: Ctx) -> addresses.Saved:
    """Save an address; the first one (or one sent with `is_default: true`) is the default."""
    body: SavedAddressIn = ctx.body
    return addresses.add(ctx.user_id, _fields(body), body.is_default, clock.now(), idem=ctx.idem)


@router.route(
    "/v1/me/addresses/{address_id}",
    "PUT",
    roles=CONSUMER,
    body=SavedAddressIn,
    response=SavedAddressView,
    errors=addresses.UPDATE_ERRORS,
    claim_in_tx=True,
    render=saved_view,
)
def update_address(ctx: Ctx, address_id: str) -> addresses.Saved:
    """Replace a saved address; `is_default: true` moves the default to it."""
    body: SavedAddressIn = ctx.body
    return addresses.update(ctx.user_id, address_id, _fields(body), body.is_default, clock.now(), idem=ctx.idem)


@router.route(
    "/v1/me/addresses/{address_id}",
    "DELETE",
    roles=CONSUMER,
    status=204,
    errors=addresses.DELETE_ERRORS,
)
def delete_address(ctx: Ctx, address_id: str) -> None:
    """Delete a saved address; deleting the default promotes the most recently added other one."""
    addresses.delete(ctx.user_id, address_id)
