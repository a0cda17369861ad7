"""Health and the OpenAPI document."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal

from ..config import settings
from ..schemas.common import View
from ..web import PUBLIC, Ctx, Reply, Router

router = Router("system")


class Health(View):
    status: Literal["ok"]
    stage: str


@router.route("/v1/health", "GET", roles=PUBLIC, response=Health)
def get_health(ctx: Ctx) -> Health:
    """Liveness: the API answers (no store access)."""
    return Health(status="ok", stage=settings().stage)


@lru_cache(maxsize=1)
def _document() -> dict[str, Any]:
    from .. import openapi
    from . import all_routers

    return openapi.build(all_routers(), title="PayLater API", version="1.0.0", include_local=settings().is_local)


@router.route("/v1/openapi.json", "GET", roles=PUBLIC)
def get_openapi_document(ctx: Ctx) -> Reply:
    """The OpenAPI 3.1 document of this stage's API."""
    return Reply(_document())
