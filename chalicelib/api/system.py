"""Health (the OpenAPI document is `document.py`)."""

from __future__ import annotations

from typing import Literal

from ..config import settings
from ..schemas.common import View
from ..web import PUBLIC, Ctx, Router

router = Router("system")


class Health(View):
    status: Literal["ok"]
    stage: str


@router.route("/v1/health", "GET", roles=PUBLIC, response=Health)
def get_health(ctx: Ctx) -> Health:
    """Liveness: the API answers (no store access)."""
    return Health(status="ok", stage=settings().stage)
