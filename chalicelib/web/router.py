"""Routes as data: a `Router` records each route with its roles, request/response schemas
and error codes; `web.view` mounts the records as Chalice views and `openapi` turns the
same records into the OpenAPI 3.1 document."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chalice.app import Request
from pydantic import BaseModel

from ..edge import ROLES
from ..errors import Raises
from .problems import statuses_of

if TYPE_CHECKING:
    from .. import auth, idempotency

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
PATH_PARAM = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")

PUBLIC: tuple[str, ...] = ()
CONSUMER = ("consumer",)
MERCHANT = ("merchant",)
REVIEWER = ("reviewer",)
# Platform customer service (快手客服): reads any order's case, decides disputes.
SUPPORT = ("support",)
# Risk operators (风控): decide 先用后付 orders held for review, keep block lists.
RISK = ("risk",)
ANY_ROLE = ROLES
# The methods that change state: each takes an Idempotency-Key (`Router.route`).
WRITES = frozenset({"POST", "PUT"})
# A route's problem codes: the services' declarations (`errors.Raises`, joined with `|`; a
# function returning them when the router loads the service lazily), or a {status: codes} table.
Declared = dict[int, list[str]] | Raises | Callable[[], Raises]


@dataclass
class Ctx:
    """What a handler gets: the caller, the validated body and query, and the request."""

    principal: auth.Principal | None
    body: Any
    query: Any
    request: Request
    idem: idempotency.IdemScope | None = None

    @property
    def user_id(self) -> str:
        assert self.principal is not None
        return self.principal.user_id


@dataclass
class Reply:
    """A handler result with an explicit status (otherwise the route's default)."""

    model: BaseModel | dict[str, Any] | str
    status: int | None = None
    content_type: str = JSON
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class RouteSpec:
    path: str
    method: str
    name: str
    handler: Callable[..., Any]
    roles: tuple[str, ...]
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    response: type[BaseModel] | None
    status: int
    declared: Declared
    idempotent: bool
    summary: str
    render: Callable[[Any], BaseModel | Reply] | None
    raw_body: bool
    tag: str
    local_only: bool
    documented: bool = True
    param_pattern: re.Pattern[str] = PATH_PARAM
    # The Idempotency-Key is claimed by the effect's own transaction (idempotency.TxClaim).
    claim_in_tx: bool = False
    # The key may be left out (the effect is then not replayable); sent, it replays.
    key_optional: bool = False
    # The answer holds a secret shown once: its Idempotency-Key record keeps it encrypted.
    sealed_answer: bool = False

    @property
    def errors(self) -> dict[int, list[str]]:
        """The route's own problem codes by status: what the services it calls declare
        (a declaration of a service the router loads lazily is a function), or by hand."""
        declared = self.declared() if callable(self.declared) else self.declared
        return statuses_of(declared) if isinstance(declared, Raises) else declared


class Router:
    """Routes of one part of the story. `documented=False` keeps them out of the OpenAPI
    document (the console's files are not API); `param_pattern` is what a path parameter
    must match before the handler runs (ids by default)."""

    def __init__(
        self,
        tag: str,
        *,
        local_only: bool = False,
        documented: bool = True,
        param_pattern: re.Pattern[str] = PATH_PARAM,
    ) -> None:
        self.tag = tag
        self.local_only = local_only
        self.documented = documented
        self.param_pattern = param_pattern
        self.routes: list[RouteSpec] = []

    def route(
        self,
        path: str,
        method: str,
        *,
        roles: tuple[str, ...],
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        response: type[BaseModel] | None = None,
        status: int = 200,
        errors: Declared | None = None,
        idempotent: bool | None = None,
        render: Callable[[Any], BaseModel | Reply] | None = None,
        raw_body: bool = False,
        claim_in_tx: bool = False,
        key_optional: bool | None = None,
        sealed_answer: bool = False,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """`idempotent`: True requires an Idempotency-Key (unless `key_optional`); left out,
        every state-changing POST/PUT of a signed-in caller takes an optional one (a
        payment channel's callback and the local stage's dev routes do not); False opts out."""
        if idempotent is None:
            idempotent = method in WRITES and bool(roles) and not raw_body and not self.local_only
            key_optional = idempotent if key_optional is None else key_optional

        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            self.routes.append(
                RouteSpec(
                    path=path,
                    method=method,
                    name=fn.__name__,
                    handler=fn,
                    roles=roles,
                    body=body,
                    query=query,
                    response=response,
                    status=status,
                    declared=errors or {},
                    idempotent=bool(idempotent),
                    summary=(fn.__doc__ or fn.__name__).strip().splitlines()[0],
                    render=render,
                    raw_body=raw_body,
                    tag=self.tag,
                    local_only=self.local_only,
                    documented=self.documented,
                    param_pattern=self.param_pattern,
                    claim_in_tx=claim_in_tx,
                    key_optional=bool(key_optional),
                    sealed_answer=sealed_answer,
                )
            )
            return fn

        return register
