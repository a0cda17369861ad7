"""The web console (`/console/`): static files for merchants, reviewers and support.

The files are public; every action they offer is a call to the `/v1` API with the signed-in
user's token, which authorizes it as it would any client. Only files shipped in
`chalicelib/console/` are served, each with its content type, a Content-Security-Policy
that allows the console's own scripts and nothing inline, and no caching of the page.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from .. import errors
from ..config import Settings, settings
from ..web import PUBLIC, Ctx, Reply, Router

FILES = Path(__file__).resolve().parent.parent / "console"
ASSET = re.compile(r"^[a-z][a-z0-9\-]{0,40}\.(?:js|css|svg)$")
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}

router = Router("console", documented=False, param_pattern=ASSET)


class ConsoleQuery(BaseModel):
    """The hosted UI returns to the console with `code` and `state` (or an error)."""

    model_config = ConfigDict(extra="ignore")

    code: str | None = Field(default=None, max_length=2048)
    state: str | None = Field(default=None, max_length=256)
    error: str | None = Field(default=None, max_length=256)
    error_description: str | None = Field(default=None, max_length=1024)


def content_security_policy(cfg: Settings) -> str:
    """Own scripts and styles only; the API is same-origin; the token endpoint of the
    stage's Cognito domain is the one other place the page may call."""
    connect = "'self'" + (f" https://{cfg.console_cognito_domain}" if cfg.console_cognito_domain else "")
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src {connect}; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )


def _headers(cfg: Settings, cache: str) -> dict[str, str]:
    return {
        "Content-Security-Policy": content_security_policy(cfg),
        "X-Content-Type-Options": "nosniff",
        # The hosted UI's `?code=` must not leak to anything the page loads.
        "Referrer-Policy": "no-referrer",
        "Cache-Control": cache,
    }


@lru_cache(maxsize=32)
def _read(name: str) -> str | None:
    path = FILES / name
    return path.read_text(encoding="utf-8") if path.is_file() else None


@router.route("/console", "GET", roles=PUBLIC, query=ConsoleQuery)
def console_page(ctx: Ctx) -> Reply:
    """The console's page (its scripts sign in and call the API)."""
    cfg = settings()
    # Relative asset paths need the trailing slash (`/console` would load `/app.js`).
    path = str((ctx.request.context or {}).get("path") or "")
    if path and not path.endswith("/"):
        return Reply("", status=308, content_type="text/plain", headers={"Location": "console/"})
    page = _read("index.html")
    assert page is not None
    return Reply(page, content_type=CONTENT_TYPES[".html"], headers=_headers(cfg, "no-store"))


@router.route("/console/config.json", "GET", roles=PUBLIC)
def console_config(ctx: Ctx) -> Reply:
    """How the console signs in on this stage (no secrets: a public PKCE client)."""
    cfg = settings()
    body = {
        "stage": cfg.stage,
        "sign_in": "local" if cfg.is_local else "cognito",
        "cognito_domain": cfg.console_cognito_domain,
        "client_id": cfg.console_client_id or cfg.jwt_audience,
        "roles_claim": cfg.jwt_roles_claim,
    }
    return Reply(body, headers=_headers(cfg, "no-store"))


@router.route("/console/{asset}", "GET", roles=PUBLIC, errors={404: ["not_found"]})
def console_asset(ctx: Ctx, asset: str) -> Reply:
    """One of the console's scripts or its stylesheet."""
    text = _read(asset)
    if text is None:
        raise errors.not_found("not_found", "no such console file")
    content_type = CONTENT_TYPES[Path(asset).suffix]
    return Reply(text, content_type=content_type, headers=_headers(settings(), "no-cache"))
