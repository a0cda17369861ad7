"""PayLater API: routes, schedules and queue handlers. Each one parses, delegates, renders.

Routes are declared in `chalicelib/api/` (one router per part of the story, with their
schemas and error codes, which also feed the OpenAPI document) and mounted here.
"""

from __future__ import annotations

from chalice.app import Chalice

from chalicelib import observability, web
from chalicelib.api import all_routers
from chalicelib.config import settings

app = Chalice(app_name="paylater")
_cfg = settings()
observability.install(app)

web.mount(app, [r for r in all_routers() if _cfg.is_local or not r.local_only])

if _cfg.is_local:
    from chalicelib.api import dev

    dev.QUEUE_HANDLERS.update({})
