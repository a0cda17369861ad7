"""schemathesis hooks for `scripts/fuzz.py` (loaded through SCHEMATHESIS_HOOKS).

Each operation gets a token of a role it accepts (the document's `x-roles`), and path
parameters are often replaced by ids of resources the driver created, so the generated
requests reach the services instead of stopping at "no such order" — or by ids of a second
consumer's and merchant's resources (`foreign`), which the first ones' tokens must never
reach: `another_users_object_is_a_404` holds them to a 404.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import strategies as st

_STATE: dict[str, Any] = json.loads(Path(os.environ["PAYLATER_FUZZ_STATE"]).read_text(encoding="utf-8"))
_FOREIGN: dict[str, list[str]] = _STATE.get("foreign", {})
# Roles that see only their own resources (support, reviewers and risk see every order).
OWNING_ROLES = ("consumer", "merchant")
PUBLIC_PREFIXES = ("/v1/products/", "/v1/cart/")  # the catalog: everyone's to read
# What a request for another's resource may answer: the 404, or what a request for no
# resource at all would answer first (a malformed request, no or a bad token, a body too
# large, a media type, throttling).
FOREIGN_ALLOWED = frozenset({400, 401, 403, 404, 413, 415, 429})


@schemathesis.auth(refresh_interval=None, retry_on=[])
class RoleToken:
    def get(self, case: Any, ctx: Any) -> dict[str, str]:
        return dict(_STATE["tokens"])

    def set(self, case: Any, data: dict[str, str], ctx: Any) -> None:
        roles = case.operation.definition.raw.get("x-roles") or []
        if roles:
            case.headers = case.headers or {}
            case.headers["Authorization"] = f"Bearer {data[roles[0]]}"


@schemathesis.hook
def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any] | None) -> Any:
    choices = [path_parameters]
    for name in path_parameters or {}:
        for real in [*_STATE["ids"].get(name, []), *_FOREIGN.get(name, [])]:
            choices.append({**path_parameters, name: real})  # type: ignore[dict-item]
    return st.sampled_from(choices)


def foreign_parameter(case: Any) -> str | None:
    """The path parameter holding another user's resource id, when the caller only owns."""
    roles = case.operation.definition.raw.get("x-roles") or []
    if not roles or roles[0] not in OWNING_ROLES or case.operation.path.startswith(PUBLIC_PREFIXES):
        return None
    for name, value in (case.path_parameters or {}).items():
        if value in _FOREIGN.get(name, ()):
            return str(name)
    return None


@schemathesis.check
def another_users_object_is_a_404(ctx: Any, response: Any, case: Any) -> bool | None:
    """SPEC: another user's (or merchant's) resource is a 404 — never a 2xx, a state
    conflict that shows it exists, or a 5xx."""
    name = foreign_parameter(case)
    if name is None:
        return None
    if response.status_code not in FOREIGN_ALLOWED:
        raise AssertionError(
            f"{case.operation.method.upper()} {case.operation.path} with another user's {name} "
            f"{case.path_parameters[name]} answered {response.status_code}, not 404"
        )
    return True


def _integral(value: Any) -> Any:
    """24.0 → 24. JSON Schema counts 24.0 as an integer, but the contract (SPEC: "a float
    amount is a 400") deliberately refuses any JSON number written with a fraction, so the
    fuzzer sends integers as integers. Real non-integers (24.5) stay as generated."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dict):
        return {k: _integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral(v) for v in value]
    return value


@schemathesis.hook
def map_body(context: Any, body: Any) -> Any:
    return _integral(body)


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    """Keep every failure but "schema-valid input refused" where validity hangs on a
    signature no schema can describe: a list cursor is opaque and signed (bound to its
    list and user), so a random string is rightly a 400 `invalid_cursor`; a payment
    channel's notification without the channel's signature is rightly refused in the
    channel's protocol."""
    if "positive_data_acceptance" not in getattr(failure, "checks", ()) or response.status_code not in (400, 401):
        return True
    if case.operation.path.startswith("/v1/channels/"):
        return False
    try:
        return bool(response.json().get("code") != "invalid_cursor")
    except ValueError:
        return True
