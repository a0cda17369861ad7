"""HTTP routes, one router per part of the story; `app.py` mounts them."""

from __future__ import annotations

from ..web import Router


def all_routers() -> list[Router]:
    """Every router, in the order the OpenAPI document lists them."""
    from . import (
        addresses,
        aftersale,
        bnpl,
        catalog,
        console,
        dev,
        fulfilment,
        me,
        messages,
        notifications,
        orders,
        payments,
        payouts,
        privacy,
        review,
        system,
        wallet,
    )

    return [
        system.router,
        me.router,
        privacy.router,
        addresses.router,
        bnpl.router,
        wallet.router,
        catalog.router,
        orders.router,
        fulfilment.router,
        aftersale.router,
        payouts.router,
        messages.router,
        payments.router,
        notifications.router,
        review.router,
        dev.router,
        payments.sandbox_router,
        console.router,
    ]
