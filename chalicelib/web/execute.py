"""A route's execution: the handler called once per Idempotency-Key (claimed before the
effect, or inside the effect's own transaction), its result rendered and stored for replay."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from chalice.app import Request, Response
from pydantic import BaseModel

from ..clock import clock
from ..edge import StoredResponse
from ..errors import PROBLEM_JSON, DomainError
from .problems import problem
from .request import prepare
from .router import JSON, Ctx, Reply, RouteSpec

if TYPE_CHECKING:  # imported where a key is claimed (cold start: most requests send none)
    from ..idempotency import ClaimRequest


def _json_text(model: BaseModel | dict[str, Any]) -> str:
    """Compact UTF-8 JSON ending its line. A view is serialized by pydantic-core in one pass
    (the same text as `json.dumps` of its `model_dump(mode="json")`, without the dict between)."""
    if isinstance(model, BaseModel):
        return model.model_dump_json() + "\n"
    return json.dumps(model, ensure_ascii=False, separators=(",", ":")) + "\n"


def _render(spec: RouteSpec, result: Any) -> StoredResponse:
    if isinstance(result, Reply):
        status = result.status or spec.status
        body = result.model if isinstance(result.model, str) else _json_text(result.model)
        return StoredResponse(status, body, result.content_type)
    model = spec.render(result) if spec.render else result
    if isinstance(model, Reply):  # a renderer that chose the status (e.g. 202 for a held order)
        return _render(spec, model)
    if model is None:
        return StoredResponse(204 if spec.status == 204 else spec.status, "", JSON)
    return StoredResponse(spec.status, _json_text(model), JSON)


def _to_response(stored: StoredResponse, extra: dict[str, str] | None = None) -> Response:
    headers: dict[str, str | list[str]] = {"Content-Type": stored.content_type or JSON, **(extra or {})}
    return Response(body=stored.body, status_code=stored.status, headers=headers)


def execute(spec: RouteSpec, request: Request, params: dict[str, str]) -> Response:
    ctx = prepare(spec, request, params)
    principal, body = ctx.principal, ctx.body
    # An optional key left out is answered afresh; one sent must be a valid key (an empty one is refused).
    if not spec.idempotent or (spec.key_optional and request.headers.get("idempotency-key") is None):
        result = spec.handler(ctx, **params)
        return _to_response(_render(spec, result), result.headers if isinstance(result, Reply) else None)

    from .. import idempotency

    key = idempotency.validate_key(request.headers.get("idempotency-key"))
    assert principal is not None
    body_doc = body.model_dump(mode="json") if isinstance(body, BaseModel) else None
    req = idempotency.ClaimRequest(
        user_id=principal.user_id,
        route=f"{spec.method} {spec.path}",
        key=key,
        req_hash=idempotency.request_hash(spec.method, spec.path, [params, body_doc]),
        now=clock.now(),
        render=lambda result: _render(spec, result),
        seal=spec.sealed_answer,
    )
    if spec.claim_in_tx:
        return _execute_claimed_in_tx(spec, ctx, params, req)
    claim = idempotency.begin(req)
    if isinstance(claim, idempotency.StoredResponse):
        return _to_response(claim, {"Idempotent-Replayed": "true"})
    ctx.idem = claim
    try:
        result = spec.handler(ctx, **params)
    except DomainError as err:
        answer = problem(err)
        if answer.status >= 500:
            idempotency.abandon(claim)
        else:
            idempotency.finish(claim, StoredResponse(answer.status, answer.render(), PROBLEM_JSON))
        raise
    except Exception:
        idempotency.abandon(claim)
        raise
    stored = claim.staged or _render(spec, result)
    if claim.staged is None:
        idempotency.finish(claim, stored)
    return _to_response(stored, result.headers if isinstance(result, Reply) else None)


def _execute_claimed_in_tx(spec: RouteSpec, ctx: Ctx, params: dict[str, str], req: ClaimRequest) -> Response:
    """An idempotent route whose service stages the claim in its transaction: no claim call."""
    from .. import idempotency

    claim = idempotency.claim_in_tx(req)
    ctx.idem = claim
    replayed = {"Idempotent-Replayed": "true"}
    try:
        result = spec.handler(ctx, **params)
    except idempotency.KeyTaken:
        return _to_response(idempotency.earlier(claim), replayed)
    except DomainError as err:
        answer = problem(err)
        if answer.status < 500:
            earlier = idempotency.store(claim, StoredResponse(answer.status, answer.render(), PROBLEM_JSON))
            if earlier is not None:
                return _to_response(earlier, replayed)
        raise
    if claim.staged is not None:
        return _to_response(claim.staged)
    stored = _render(spec, result)
    earlier = idempotency.store(claim, stored)
    return _to_response(earlier, replayed) if earlier is not None else _to_response(stored)
