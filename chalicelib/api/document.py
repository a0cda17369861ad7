"""The OpenAPI document of this stage's API, built from every router (`all_routers`)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from ..config import settings
from ..web import PUBLIC, Ctx, Reply, Router

router = Router("system")
# The contract's version: CHANGELOG.md's newest heading names it (docs/deprecation.md).
API_VERSION = "1.0.0"


@lru_cache(maxsize=1)
def _document() -> dict[str, Any]:
    from .. import openapi

    return openapi.build(all_routers(), title="PayLater API", version=API_VERSION, include_local=settings().is_local)


@router.route("/v1/openapi.json", "GET", roles=PUBLIC)
def get_openapi_document(ctx: Ctx) -> Reply:
    """The OpenAPI 3.1 document of this stage's API."""
    return Reply(_document())


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
        installments,
        me,
        messages,
        notifications,
        orders,
        payments,
        payouts,
        privacy,
        review,
        risk,
        system,
        wallet,
        webhooks,
    )

    return [
        system.router,
        router,
        me.router,
        privacy.router,
        addresses.router,
        bnpl.router,
        wallet.router,
        catalog.router,
        orders.router,
        installments.router,
        fulfilment.router,
        aftersale.router,
        payouts.router,
        messages.router,
        payments.router,
        notifications.router,
        review.router,
        risk.router,
        dev.router,
        payments.sandbox_router,
        console.router,
        webhooks.router,
    ]
