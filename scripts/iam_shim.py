"""Make moto's IAM enforcement faithful for what PayLater calls (used by `make iam-check`).

moto 5.2 checks identity policies, but for this app it is wrong in ways that hide a missing
grant or invent one:
- DynamoDB (and `sqs:GetQueueUrl`, `sns:Publish`, `secretsmanager:GetSecretValue`) are
  checked against resource `*`, so a policy naming tables and indexes is never tested;
- a transaction is checked as the action `dynamodb:TransactWriteItems`, which IAM does not
  have: AWS checks each item as `PutItem`/`UpdateItem`/`DeleteItem`/`ConditionCheckItem`
  on that item's table;
- a `Condition` on an identity policy denies, and `NotResource` is ignored.

`install()` replaces moto's per-request check (signature still checked by moto) with
`requested()` — the action/resource pairs AWS would authorise for the request — and
`decide()` over the caller's identity policies, and records one `Decision` per pair.
A statement whose `Condition` this shim cannot evaluate never allows and always denies
(fail closed): PayLater's function roles carry no conditions.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlparse

# DynamoDB transaction items → the action IAM authorises for each.
TRANSACT_WRITE = {
    "ConditionCheck": "ConditionCheckItem",
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
}
# Actions whose resource is the table (or the index, given IndexName).
TABLE_ACTIONS = {
    "GetItem",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "Query",
    "Scan",
    "DescribeTable",
    "DeleteTable",
    "CreateTable",
    "UpdateTable",
    "UpdateTimeToLive",
    "DescribeTimeToLive",
}


# An unsigned header a caller may add to say what it was doing; copied into each decision.
CONTEXT_HEADER = "X-Iam-Check-Context"


@dataclass(frozen=True)
class Decision:
    principal: str  # the IAM user (one per function role in `make iam-check`)
    action: str  # e.g. dynamodb:Query
    resource: str  # e.g. arn:aws-cn:dynamodb:cn-north-1:123456789012:table/x/index/y
    allowed: bool
    context: str = ""  # what the caller was doing (the harness: the route or job)

    def line(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))


def _partition(region: str) -> str:
    return "aws-cn" if region.startswith("cn-") else "aws"


def requested(service: str, action: str, params: Mapping[str, Any], region: str, account: str) -> list[tuple[str, str]]:
    """The (action, resource) pairs AWS authorises for one request."""
    arn = f"arn:{_partition(region)}"
    if service == "dynamodb":

        def table(name: str, index: str | None = None) -> str:
            base = f"{arn}:dynamodb:{region}:{account}:table/{name}"
            return f"{base}/index/{index}" if index else base

        if action in TABLE_ACTIONS and "TableName" in params:
            return [(f"dynamodb:{action}", table(params["TableName"], params.get("IndexName")))]
        if action in ("BatchGetItem", "BatchWriteItem"):
            return [(f"dynamodb:{action}", table(name)) for name in params.get("RequestItems", {})]
        if action == "TransactWriteItems":
            pairs = []
            for item in params.get("TransactItems", []):
                for kind, op in item.items():
                    pairs.append((f"dynamodb:{TRANSACT_WRITE[kind]}", table(op["TableName"])))
            return pairs
        if action == "TransactGetItems":
            return [("dynamodb:GetItem", table(i["Get"]["TableName"])) for i in params.get("TransactItems", [])]
        return [(f"dynamodb:{action}", "*")]
    if service == "sqs":
        name = params.get("QueueName") if action in ("GetQueueUrl", "CreateQueue") else None
        url = params.get("QueueUrl")
        name = name or (str(url).rstrip("/").rsplit("/", 1)[-1] if url else None)
        return [(f"sqs:{action}", f"{arn}:sqs:{region}:{account}:{name}" if name else "*")]
    if service == "sns":
        return [(f"sns:{action}", str(params.get("TopicArn") or "*"))]
    if service == "secretsmanager":
        secret = str(params.get("SecretId") or "*")
        if secret != "*" and not secret.startswith("arn:"):
            secret = f"{arn}:secretsmanager:{region}:{account}:secret:{secret}"
        return [(f"secretsmanager:{action}", secret)]
    return [(f"{service}:{action}", "*")]


@lru_cache(maxsize=1024)
def _pattern(glob: str, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob)
    return re.compile(f"^{body}$", re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def _matches(values: Any, value: str, ignore_case: bool) -> bool:
    values = [values] if isinstance(values, str) else list(values)
    return any(_pattern(v, ignore_case).match(value) for v in values)


def _statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    st = document.get("Statement", [])
    return [st] if isinstance(st, Mapping) else list(st)


def _applies(st: Mapping[str, Any], action: str, resource: str) -> bool:
    if "Action" in st:
        if not _matches(st["Action"], action, ignore_case=True):
            return False
    elif "NotAction" in st:
        if _matches(st["NotAction"], action, ignore_case=True):
            return False
    else:
        return False
    if "Resource" in st:
        return _matches(st["Resource"], resource, ignore_case=False)
    if "NotResource" in st:
        return not _matches(st["NotResource"], resource, ignore_case=False)
    return False


def decide(documents: Iterable[Mapping[str, Any]], action: str, resource: str) -> bool:
    """IAM's identity-policy evaluation: an explicit deny wins, else some allow is needed."""
    allowed = False
    for doc in documents:
        for st in _statements(doc):
            if not _applies(st, action, resource):
                continue
            if st.get("Effect") == "Deny":
                return False  # a Deny applies whatever its Condition (fail closed)
            if "Condition" not in st:
                allowed = True
    return allowed


class DecisionLog:
    """Every decision, in order; optionally appended to a file as JSON lines."""

    def __init__(self, path: str | None = None) -> None:
        self.decisions: list[Decision] = []
        self._path = path
        self._lock = threading.Lock()

    def record(self, decision: Decision) -> None:
        with self._lock:
            self.decisions.append(decision)
            if self._path:
                with open(self._path, "a", encoding="utf-8") as f:
                    f.write(decision.line() + "\n")

    def denied(self, principals: Iterable[str] | None = None) -> list[Decision]:
        wanted = set(principals) if principals is not None else None
        return [d for d in self.decisions if not d.allowed and (wanted is None or d.principal in wanted)]


def _documents(access_key: Any) -> list[dict[str, Any]]:
    from moto.iam.access_control import IAMPolicy

    return [IAMPolicy(p)._policy_json for p in access_key.collect_policies()]


def _principal(access_key: Any) -> str:
    return str(access_key.arn).rsplit("/", 1)[-1]


def _params(response: Any) -> Mapping[str, Any]:
    """The request's parameters, however this moto handler has (or has not yet) parsed them."""
    for found in (getattr(response, "params", None), getattr(response, "body", None)):
        if isinstance(found, Mapping) and found:
            return found
        if isinstance(found, str | bytes) and found[:1] in ("{", b"{"):
            try:
                loaded = json.loads(found)
            except ValueError:
                continue
            if isinstance(loaded, dict):
                return loaded
    query = getattr(response, "querystring", {}) or {}
    return {k: (v[0] if isinstance(v, list) and len(v) == 1 else v) for k, v in query.items()}


def install(log: DecisionLog) -> Callable[[], None]:
    """Route moto's per-request authorisation through `requested` and `decide`; returns the undo."""
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.core.exceptions import AccessDeniedError
    from moto.iam.access_control import IAMRequest

    original = ActionAuthenticatorMixin._authenticate_and_authorize_normal_action

    def authorise(self: Any, resource: str = "*") -> None:
        if ActionAuthenticatorMixin.request_count < settings.INITIAL_NO_AUTH_ACTION_COUNT:
            ActionAuthenticatorMixin.request_count += 1
            return
        if self.headers.get("X-Amz-Target") in ActionAuthenticatorMixin.PUBLIC_OPERATIONS:
            return
        request = IAMRequest(
            account_id=self.current_account,
            method=self.method,
            path=self.raw_path + (f"?{query}" if (query := urlparse(self.uri).query) else ""),
            data=self.data,
            body=self.raw_body,
            headers=self.headers,
            action=self._get_action(),
        )
        request.check_signature()
        service, action = request._action.split(":", 1)
        if service == "sts" and action == "GetCallerIdentity":
            return
        params = _params(self)
        pairs = requested(service, action, params, self.region, self.current_account)
        documents = _documents(request._access_key)
        principal = _principal(request._access_key)
        context = str(self.headers.get(CONTEXT_HEADER, ""))
        for pair_action, pair_resource in pairs:
            allowed = decide(documents, pair_action, pair_resource)
            log.record(Decision(principal, pair_action, pair_resource, allowed, context))
            if not allowed:
                raise AccessDeniedError(user_arn=request._access_key.arn, action=f"{pair_action} on {pair_resource}")

    ActionAuthenticatorMixin._authenticate_and_authorize_normal_action = authorise  # type: ignore[method-assign]

    def uninstall() -> None:
        ActionAuthenticatorMixin._authenticate_and_authorize_normal_action = original  # type: ignore[method-assign]

    return uninstall
