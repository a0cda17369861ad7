"""DynamoDB plumbing: model metadata per stage, one connection, and transactions whose
failed conditions become domain errors."""

from __future__ import annotations

import gzip
import json
import os
import threading
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any, ClassVar, TypeVar

import pynamodb.connection.base
from botocore.exceptions import ClientError, DataNotFoundError, HTTPClientError
from botocore.exceptions import ConnectionError as StoreUnreachable
from botocore.loaders import JSONFileLoader, Loader, instance_cache
from botocore.session import Session, get_session
from pynamodb.attributes import JSONAttribute, ListAttribute, MapAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.connection import Connection
from pynamodb.constants import NULL
from pynamodb.exceptions import PynamoDBException, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from . import errors
from .config import settings

M = TypeVar("M", bound=Model)

_thread = threading.local()


def _thread_session(env_vars: Any = None) -> Session:
    """One botocore session per thread for every table's connection. PynamoDB asks for a
    new session per table, and each one loaded the DynamoDB service model, the endpoints
    and the credentials again on its table's first call (a cold start paid it per table);
    a session serves one thread, as PynamoDB keeps them (botocore's client creation is
    not thread-safe)."""
    session: Session | None = getattr(_thread, "session", None)
    if session is None:
        session = _thread.session = get_session(env_vars)
        _share_clients(session)
        data_path = session.get_config_variable("data_path")  # AWS_DATA_PATH, as botocore's own loader
        extra = [os.path.expanduser(p) for p in data_path.split(os.pathsep)] if data_path else None
        session.register_component("data_loader", _DynamoDBLoader(extra_search_paths=extra, file_loader=_FileLoader()))
    return session


class _FileLoader(JSONFileLoader):  # type: ignore[misc]  # botocore has no type hints
    """botocore's model files parsed into plain dicts (ordered as they are, since Python 3.7):
    botocore parses them into OrderedDicts, which made the endpoints file (1.2 MB) and the
    DynamoDB model cost a cold start ~45 ms more than the JSON itself."""

    def load_file(self, file_path: str) -> Any:
        for ext, opener in ((".json", open), (".json.gz", gzip.open)):  # botocore's order
            if os.path.isfile(file_path + ext):
                with opener(file_path + ext, "rb") as fh:
                    return json.loads(fh.read().decode("utf-8"))
        return None


# botocore's endpoints file restricted to DynamoDB's entries (every partition's regions and
# defaults kept): tests/architecture/test_cold_start.py keeps it equal to the installed
# botocore's file and rewrites it with PAYLATER_UPDATE_ENDPOINTS=1.
DYNAMODB_ENDPOINTS = os.path.join(os.path.dirname(__file__), "dynamodb_endpoints.json")


class _DynamoDBLoader(Loader):  # type: ignore[misc]  # botocore has no type hints
    """botocore's data loader for the sessions of our tables' connections, which create
    DynamoDB clients only: before loading a model, botocore lists every service it knows
    (~440 folders, each listed and stat'ed, ~60 ms of a cold start) to check that the one
    asked for is one of them. This one looks at DynamoDB's folder alone, and reads the
    endpoints of DynamoDB alone (10 KB) where botocore parsed every service's (1.2 MB,
    ~9 ms of CPU), unless a data path of the caller's own holds an endpoints file."""

    SERVICES = ("dynamodb",)

    @instance_cache  # type: ignore[untyped-decorator]
    def load_data_with_path(self, name: str) -> tuple[Any, str]:
        if name == "endpoints":
            paths = [os.path.join(p, name) for p in self.search_paths]  # botocore's order
            path = next((p for p in paths if self.file_loader.exists(p)), "")
            if self.is_builtin_path(path):
                with open(DYNAMODB_ENDPOINTS, "rb") as fh:
                    return json.loads(fh.read().decode("utf-8")), path
        found: tuple[Any, str] = super().load_data_with_path(name)
        return found

    @instance_cache  # type: ignore[untyped-decorator]
    def list_available_services(self, type_name: str) -> list[str]:
        available = []
        for service in self.SERVICES:
            try:
                self.list_api_versions(service, type_name)
            except DataNotFoundError:
                continue
            available.append(service)
        return available


def _share_clients(session: Session) -> None:
    """Every table's connection of this session asks for a client of the same service,
    region, endpoint and configuration: one client serves them all. A request that reads
    three tables created three clients (a cold start paid each); a client whose credentials
    came back empty is replaced, as PynamoDB does for its own."""
    create = session.create_client
    made: dict[str, Any] = {}

    def create_client(service_name: str, region_name: str | None = None, **kwargs: Any) -> Any:
        config = kwargs.get("config")
        options = sorted((config._user_provided_options if config is not None else {}).items())
        key = repr((service_name, region_name, sorted((k, v) for k, v in kwargs.items() if k != "config"), options))
        client = made.get(key)
        signer = getattr(client, "_request_signer", None)
        if client is None or (signer is not None and not signer._credentials):
            client = made[key] = create(service_name, region_name, **kwargs)
        return client

    session.create_client = create_client


pynamodb.connection.base.get_session = _thread_session  # type: ignore[attr-defined]  # its own import


def _instantiate(cls: type[M], stored: dict[str, dict[str, Any]]) -> M:
    """A model read from the store, in one pass over its attributes: each stored value
    deserialised, else the attribute's default. PynamoDB's own way (kept for a model with a
    discriminator, a map attribute or its own `__init__`) set every default through its
    descriptor twice, once building the instance and once more before each stored value,
    and built a JSON decoder for every number and JSON attribute: half of our own CPU time
    in an order read."""
    plan = _PLANS[cls] if cls in _PLANS else _PLANS.setdefault(cls, _plan(cls))
    if not plan:
        return _PYNAMODB_INSTANTIATE(cls, stored)  # type: ignore[no-any-return]
    instance = cls.__new__(cls)
    values: dict[str, Any] = {}
    for name, attr, stored_name, decode, default in plan[1:]:
        raw = stored.get(stored_name)
        if raw and NULL not in raw:
            values[name] = decode(attr.get_value(raw))
        elif default is not None:
            value = default() if callable(default) else default
            if value is not None:
                values[name] = value
    instance.attribute_values = values
    return instance


_LENIENT_JSON = json.JSONDecoder(strict=False)  # JSONAttribute's own json.loads(value, strict=False)


def _number(text: str) -> Any:
    """NumberAttribute's json.loads(text), without the decoder for a plain whole number."""
    if text.isascii() and text.isdigit() and (text[0] != "0" or text == "0"):
        return int(text)
    return json.loads(text)


def _plan(cls: type[Model]) -> tuple[Any, ...]:
    """(True, then (python name, attribute, stored name, decoder, default) per attribute), or
    () where only PynamoDB's own way is known to be right."""
    attributes = cls.get_attributes()
    own_way = (
        cls._discriminator is not None  # type: ignore[attr-defined]  # set by PynamoDB's metaclass
        or cls.__init__ is not Model.__init__
        or any(isinstance(a, MapAttribute) or _holds_maps(a) for a in attributes.values())
    )
    decoders: dict[type[Any], Callable[[Any], Any]] = {
        UnicodeAttribute: str,
        NumberAttribute: _number,
        JSONAttribute: _LENIENT_JSON.decode,
    }
    plan = ((n, a, a.attr_name, decoders.get(type(a), a.deserialize), a.default) for n, a in attributes.items())
    return () if own_way else (True, *plan)


def _holds_maps(attr: Any) -> bool:
    """A list of maps (a webhook endpoint's previous secrets): PynamoDB's own way reads them."""
    return isinstance(attr, ListAttribute) and issubclass(attr.element_type or object, MapAttribute)


_PLANS: dict[type[Model], tuple[Any, ...]] = {}
_PYNAMODB_INSTANTIATE = Model._instantiate.__func__  # type: ignore[attr-defined]
Model._instantiate = classmethod(_instantiate)  # type: ignore[assignment,method-assign]

# Codes that mean "try again": answered as 503 problem+json with Retry-After.
RETRYABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionConflictException",
        "TransactionInProgressException",
    }
)
# A transaction's per-item cancellation reasons that mean "try again" (DynamoDB names these
# differently from the exceptions: `ThrottlingError`, not `ThrottlingException`).
RETRYABLE_REASONS = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})


def table_meta(name: str, *, ttl: str | None = None, append_only: bool = False) -> Any:
    """A PynamoDB `Meta` for the stage's table `name` (read from settings at import).

    `ttl` names a number attribute (epoch seconds) DynamoDB expires items by; a
    `TTLAttribute` on the model is found without it. `append_only` tables get no
    update or delete permission in the deployed IAM policy (`chalicelib/definitions.py`).
    """
    cfg = settings()
    attrs: dict[str, Any] = {
        "resource_name": name,
        "ttl_attribute": ttl,
        "append_only": append_only,
        "table_name": cfg.table(name),
        "region": cfg.region,
        "billing_mode": "PAY_PER_REQUEST",
        "max_retry_attempts": 2,
    }
    if cfg.dynamodb_endpoint:
        attrs["host"] = cfg.dynamodb_endpoint
    return type("Meta", (), attrs)


@lru_cache(maxsize=1)
def connection() -> Connection:
    cfg = settings()
    return Connection(region=cfg.region, host=cfg.dynamodb_endpoint, max_retry_attempts=2)


def is_retryable(exc: BaseException) -> bool:
    """A store failure worth trying again (answered 503): throttled, busy, a transaction
    cancelled only for retryable reasons, or no answer at all (a timeout, a dropped
    connection: the write may have happened, and an Idempotency-Key makes the retry safe)."""
    cause = exc.cause if isinstance(exc, PynamoDBException) else exc
    if isinstance(cause, (HTTPClientError, StoreUnreachable)):
        return True
    code = _answered(exc).get("Code")
    if code == "TransactionCanceledException" and isinstance(exc, TransactWriteError):
        reasons = {r.code for r in exc.cancellation_reasons if r is not None}
        return bool(reasons) and reasons <= RETRYABLE_REASONS
    return code in RETRYABLE_CODES


def describe(exc: BaseException) -> dict[str, Any]:
    """What the store answered, for a log line: its code, message and each item's
    cancellation reason (code and message: never the item, which may hold PII)."""
    if not isinstance(exc, (PynamoDBException, ClientError)):
        return {}
    answered = _answered(exc)
    code, message = answered.get("Code"), answered.get("Message")
    cause = exc.cause if isinstance(exc, PynamoDBException) else None
    info: dict[str, Any] = {"store_code": code, "store_message": (message or "")[:300] or None}
    if cause is not None and code is None:  # no answer: a timeout or a dropped connection
        info["store_cause"] = type(cause).__name__
    if isinstance(exc, TransactWriteError) and exc.cancellation_reasons:
        info["cancellation_reasons"] = [
            None if r is None else {"code": r.code, "message": (r.message or "")[:200] or None}
            for r in exc.cancellation_reasons
        ]
    return info


def condition_failed(exc: PynamoDBException) -> bool:
    return _answered(exc).get("Code") == "ConditionalCheckFailedException"


def _answered(exc: BaseException) -> dict[str, Any]:
    """The store's error (code, message) behind `exc`, or {} if it never answered: PynamoDB's
    `cause_response_code` fails on a timeout, whose `response` is None."""
    cause = exc.cause if isinstance(exc, PynamoDBException) else exc
    response = getattr(cause, "response", None) if isinstance(cause, ClientError) else None
    error = response.get("Error") if isinstance(response, dict) else None
    return error if isinstance(error, dict) else {}


class Tx:
    """A write transaction whose operations each name the error their condition means.

    `commit()` raises the `on_fail` error of the first operation whose condition failed,
    preferring a state's condition over a guard's: a `guard` item exists only so an effect
    happens once (a ledger event's entries, a notification). When a concurrent request made
    the same transition first, both its guard and the state's condition fail, and the state's
    error (e.g. `illegal_transition`) is the one the caller can act on.

    `commit_hooks` run on every transaction as it commits, before its own `before_commit`
    steps: a service adds there what a transaction's saved items imply, so the layer that
    saves them need not know it (`services/payout_due.py`: a credit to a merchant's
    payable arms the merchant's payout; the ledger knows no timer).
    """

    commit_hooks: ClassVar[list[Callable[[Tx], None]]] = []

    def __init__(self, client_request_token: str | None = None) -> None:
        # (kind, add to the TransactWrite, the error its failed condition means, is a guard)
        self._ops: list[tuple[str, Callable[[TransactWrite], None], errors.DomainError | None, bool]] = []
        self._token = client_request_token
        self._before_commit: dict[str, Callable[[], None]] = {}
        self._after: list[Callable[[], None]] = []
        self._saved: list[Model] = []
        self._hooked = False

    def __len__(self) -> int:
        return len(self._ops)

    def before_commit(self, name: str, fn: Callable[[], None]) -> None:
        """Run `fn` once, just before commit, to add ops gathered while the tx was built
        (the ledger merges several changes to one balance item into one update)."""
        self._before_commit.setdefault(name, fn)

    def check(
        self,
        model_cls: type[M],
        hash_key: Any,
        range_key: Any = None,
        *,
        condition: Condition,
        on_fail: errors.DomainError | None = None,
    ) -> None:
        def add(tw: TransactWrite) -> None:
            tw.condition_check(model_cls, hash_key, range_key, condition=condition)

        self._ops.append(("check", add, on_fail, False))

    def save(
        self,
        model: Model,
        *,
        condition: Condition | None = None,
        on_fail: errors.DomainError | None = None,
        guard: bool = False,
    ) -> None:
        self._saved.append(model)
        self._ops.append(("save", lambda tw: tw.save(model, condition=condition), on_fail, guard))

    def saved(self) -> list[Model]:
        """The items this transaction saves, in the order they were added."""
        return list(self._saved)

    def update(
        self,
        model: Model,
        actions: Sequence[Action],
        *,
        condition: Condition | None = None,
        on_fail: errors.DomainError | None = None,
    ) -> None:
        self._ops.append(("update", lambda tw: tw.update(model, list(actions), condition=condition), on_fail, False))

    def delete(
        self, model: Model, *, condition: Condition | None = None, on_fail: errors.DomainError | None = None
    ) -> None:
        self._ops.append(("delete", lambda tw: tw.delete(model, condition=condition), on_fail, False))

    def after_commit(self, fn: Callable[[], None]) -> None:
        """Run `fn` once the transaction has committed (best effort: e.g. a push fan-out)."""
        self._after.append(fn)

    def commit(self) -> None:
        if not self._hooked:
            self._hooked = True
            for step in list(Tx.commit_hooks):
                step(self)
        hooks, self._before_commit = list(self._before_commit.values()), {}
        for hook in hooks:
            hook()
        if not self._ops:
            return
        # PynamoDB sends condition checks, deletes, puts, then updates: keep that order to
        # match cancellation reasons to our operations.
        order = {"check": 0, "delete": 1, "save": 2, "update": 3}
        ops = sorted(self._ops, key=lambda op: order[op[0]])
        try:
            with TransactWrite(connection=connection(), client_request_token=self._token) as tw:
                for _, add, _fail, _guard in ops:
                    add(tw)
        except TransactWriteError as exc:
            reasons = exc.cancellation_reasons
            failed = [
                (guard, fail)
                for (_, _, fail, guard), reason in zip(ops, reasons, strict=False)
                if reason is not None and reason.code == "ConditionalCheckFailed"
            ]
            if failed:  # a key's lost claim first (a replay), then the first non-guard failure
                _, fail = min(failed, key=lambda f: (not getattr(f[1], "outranks", False), f[0]))
                raise (fail or errors.state_changed("the resource changed; reload and retry")) from exc
            if is_retryable(exc):
                raise errors.unavailable("temporarily_unavailable", "the store is busy; retry shortly") from exc
            raise  # neither a condition nor worth a retry: the edge logs what the store said (`describe`)
        for fn in self._after:
            try:
                fn()
            except Exception as exc:  # noqa: BLE001 - the transaction stands; a side effect may fail
                from .observability import logger

                logger.warning("after-commit step failed", extra={"error": type(exc).__name__})
