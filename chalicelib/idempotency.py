"""Idempotency-Key handling for money-moving POSTs.

`begin` claims the key (or answers with the stored response); the service then writes
the final response in the *same transaction* as its effect through `IdemScope.stage`,
so an effect and the record of it can never disagree. Responses that are not staged in a
transaction (no DynamoDB effect) are stored right after the handler returns.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pynamodb.exceptions import DeleteError, PutError, UpdateError
from pynamodb.expressions.update import Action

from . import errors
from .config import settings
from .db import Tx, condition_failed, is_retryable
from .edge import StoredResponse as StoredResponse
from .models.idempotency import DONE, IN_FLIGHT, IdempotencyRecord

KEY_PATTERN = re.compile(r"^[A-Za-z0-9_\-:.]{8,64}$")


@dataclass
class IdemScope:
    record_key: str
    request_hash: str
    render: Callable[[Any], StoredResponse]
    staged: StoredResponse | None = field(default=None)
    # The route's answer holds a secret (a webhook signing secret): the record keeps it sealed.
    seal: bool = field(default=False, kw_only=True)

    def stage(self, tx: Tx, result: Any) -> None:
        """Write the response for `result` into `tx`, beside the effect that produced it."""
        response = self.render(result)
        tx.update(
            IdempotencyRecord(self.record_key),
            _done_actions(self, response),
            condition=(IdempotencyRecord.state == IN_FLIGHT) & (IdempotencyRecord.request_hash == self.request_hash),
            on_fail=errors.conflict("idempotency_conflict", "this Idempotency-Key was completed by another request"),
        )
        # Staged only if `tx` commits: a transaction that lost a race (and is retried, or
        # answered another way) must leave the response to be stored by what follows.
        tx.after_commit(lambda: setattr(self, "staged", response))

    def guard(self, tx: Tx) -> None:
        """An effect's first write when its answer is staged by a later one: nothing to add,
        this claim was taken before the effect began (`TxClaim.guard` adds a condition)."""


def request_hash(method: str, path: str, body: Any) -> str:
    """Keyed: a body can be an ID number, a name or a payment password, and the record
    keeps its hash for a day (a plain digest of a guessable value is the value)."""
    canonical = json.dumps([method, path, body], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    key = settings().secret_bytes("PII_HASH_KEY")
    return hmac.new(key, b"idempotency:" + canonical.encode(), hashlib.sha256).hexdigest()


def validate_key(raw: str | None) -> str:
    if raw is None or raw == "":
        raise errors.bad_request("missing_idempotency_key", "this request needs an Idempotency-Key header")
    if not KEY_PATTERN.match(raw):
        raise errors.bad_request(
            "invalid_idempotency_key", "an Idempotency-Key is 8-64 characters of letters, digits, '_', '-', ':' or '.'"
        )
    return raw


@dataclass(frozen=True)
class ClaimRequest:
    """One request's claim on its Idempotency-Key: whose, on which route, the key, the
    request's hash, and how its answer is rendered (and kept sealed, for a secret's answer).
    Claimed with a call first (`begin`) or staged in the effect's transaction (`claim_in_tx`)."""

    user_id: str
    route: str
    key: str
    req_hash: str
    now: datetime
    render: Callable[[Any], StoredResponse]
    seal: bool = False

    @property
    def record_key(self) -> str:
        return f"{self.user_id}|{self.route}|{self.key}"


def begin(req: ClaimRequest) -> IdemScope | StoredResponse:
    """Claim `key` for this request, or return the response it already produced."""
    rules = settings().rules
    record_key, req_hash, ts = req.record_key, req.req_hash, int(req.now.timestamp())
    record = IdempotencyRecord(
        record_key,
        request_hash=req_hash,
        state=IN_FLIGHT,
        locked_until=ts + rules.idempotency_lock_seconds,
        expires_at=ts + rules.idempotency_ttl_seconds,
    )
    try:
        # A claim succeeds on a new key, an expired record, or an abandoned in-flight lock
        # of the same request.
        record.save(
            condition=IdempotencyRecord.key.does_not_exist()
            | (IdempotencyRecord.expires_at < ts)
            | (
                (IdempotencyRecord.state == IN_FLIGHT)
                & (IdempotencyRecord.locked_until < ts)
                & (IdempotencyRecord.request_hash == req_hash)
            )
        )
        return IdemScope(record_key, req_hash, req.render, seal=req.seal)
    except PutError as exc:
        if not condition_failed(exc):
            raise
    existing = IdempotencyRecord.get(record_key, consistent_read=True)
    if existing.request_hash != req_hash:
        raise errors.unprocessable("idempotency_key_reused", "this Idempotency-Key was used with a different request")
    if existing.state == DONE and existing.response_status is not None:
        return _replayed(existing)
    raise errors.conflict("idempotency_in_flight", "a request with this Idempotency-Key is still being processed")


def finish(scope: IdemScope, response: StoredResponse) -> None:
    """Store a response that was not staged inside a transaction."""
    update = IdempotencyRecord(scope.record_key).update
    actions = _done_actions(scope, response)
    condition = (IdempotencyRecord.state == IN_FLIGHT) & (IdempotencyRecord.request_hash == scope.request_hash)
    _settle_claim(lambda: update(actions=actions, condition=condition))


def _kept_body(scope: IdemScope, response: StoredResponse) -> str:
    """The body as the record keeps it: a secret's answer encrypted with the stage's data key
    (as the secret itself is stored), bound to its record; anything else as sent."""
    if not scope.seal:
        return response.body
    from . import pii  # only the few routes whose answer holds a secret need the cipher

    return pii.encrypt(response.body, f"idempotency:{scope.record_key}")


def _done_actions(scope: IdemScope, response: StoredResponse) -> list[Action]:
    actions: list[Action] = [
        IdempotencyRecord.state.set(DONE),
        IdempotencyRecord.response_status.set(response.status),
        IdempotencyRecord.response_body.set(_kept_body(scope, response)),
        IdempotencyRecord.response_content_type.set(response.content_type),
    ]
    return [*actions, IdempotencyRecord.response_sealed.set(True)] if scope.seal else actions


def _replayed(existing: IdempotencyRecord) -> StoredResponse:
    """The stored answer, exactly as first sent (a sealed one decrypted)."""
    body = existing.response_body or ""
    if existing.response_sealed:
        from . import pii

        body = pii.decrypt(body, f"idempotency:{existing.key}")
    return StoredResponse(int(existing.response_status or 0), body, existing.response_content_type or "")


def abandon(scope: IdemScope) -> None:
    """Release the claim after a failure that changed nothing, so a retry can run."""
    delete = IdempotencyRecord(scope.record_key).delete
    _settle_claim(lambda: delete(condition=IdempotencyRecord.state == IN_FLIGHT))


# A claim's last write is tried again when its answer was lost or the store was busy: left
# in flight, the key would answer 409 `idempotency_in_flight` until its lock expired. Both
# writes are conditional on the claim still in flight, so a repeat after one that took
# effect changes nothing.
SETTLE_TRIES = 3


def _settle_claim(write: Callable[[], Any]) -> None:
    for attempt in range(SETTLE_TRIES):
        try:
            write()
            return
        except (UpdateError, DeleteError) as exc:
            if condition_failed(exc):
                return
            if attempt == SETTLE_TRIES - 1 or not is_retryable(exc):
                raise


# --- the claim written by the effect's own transaction -------------------------------------------
#
# For routes whose effect is one transaction (checkout, confirmation), the claim costs no call
# of its own: the record is written once, already `done` with its response, by the effect's
# transaction, on condition the key is free. A duplicate loses that condition and answers
# with what the winner stored; a request that fails before its transaction stores its error
# the same way, or answers with the earlier outcome when the key was already used.


class KeyTaken(errors.Conflict):
    """The transaction lost the claim: the key was used first (never sent to a client). It
    outranks the other failed conditions of its transaction (`db.Tx`): the request already
    answered, so it is replayed, whatever else its twin changed meanwhile."""

    outranks = True


@dataclass
class TxClaim(IdemScope):
    now_ts: int = 0

    def stage(self, tx: Tx, result: Any) -> None:
        response = self.render(result)
        tx.save(
            self._record(response),
            condition=self._free(),
            on_fail=KeyTaken("idempotency_key_taken", "this Idempotency-Key was used first by another request"),
        )
        # Staged only if `tx` commits (a settlement retried after a lost race stages again).
        tx.after_commit(lambda: setattr(self, "staged", response))

    def guard(self, tx: Tx) -> None:
        """In the effect's first write (a card charge's attempt, before the gateway is asked;
        the answer is staged later): the key must still be free, so a retry of a request that
        already answered replays that answer (`KeyTaken`) instead of charging again."""
        tx.check(
            IdempotencyRecord,
            self.record_key,
            condition=self._free(),
            on_fail=KeyTaken("idempotency_key_taken", "this Idempotency-Key was used first by another request"),
        )

    def _free(self) -> Any:
        return IdempotencyRecord.key.does_not_exist() | (IdempotencyRecord.expires_at < self.now_ts)

    def _record(self, response: StoredResponse) -> IdempotencyRecord:
        return IdempotencyRecord(
            self.record_key,
            request_hash=self.request_hash,
            state=DONE,
            locked_until=self.now_ts,
            expires_at=self.now_ts + settings().rules.idempotency_ttl_seconds,
            response_status=response.status,
            response_body=_kept_body(self, response),
            response_content_type=response.content_type,
            response_sealed=True if self.seal else None,
        )


def claim_in_tx(req: ClaimRequest) -> TxClaim:
    """A claim the service stages into its effect's transaction (`TxClaim.stage`): no call yet."""
    return TxClaim(req.record_key, req.req_hash, req.render, now_ts=int(req.now.timestamp()), seal=req.seal)


def earlier(claim: TxClaim) -> StoredResponse:
    """What the request that used the key first answered (after this one lost the claim)."""
    existing = IdempotencyRecord.get(claim.record_key, consistent_read=True)
    if existing.request_hash != claim.request_hash:
        raise errors.unprocessable("idempotency_key_reused", "this Idempotency-Key was used with a different request")
    if existing.state == DONE and existing.response_status is not None:
        return _replayed(existing)
    raise errors.conflict("idempotency_in_flight", "a request with this Idempotency-Key is still being processed")


def store(claim: TxClaim, response: StoredResponse) -> StoredResponse | None:
    """Record a response no transaction staged; the earlier response if the key was used first."""
    try:
        claim._record(response).save(condition=claim._free())
    except PutError as exc:
        if not condition_failed(exc):
            raise
        return earlier(claim)
    return None
