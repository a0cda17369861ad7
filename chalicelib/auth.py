"""Bearer JWT verification (RS256 against a JWKS) and the caller's roles.

In the cloud the JWKS is the Cognito user pool's; in the local stage it is the local
issuer's key. The verification code is the same for both.

A token whose signature and claims verified is remembered in this process (a bounded LRU
keyed by the SHA-256 of the whole token, per settings object), so an app's repeated calls
with one token skip the RSA check and the JSON decoding. Only successes are remembered, and
the time claims are checked against the service clock on every request, cached or not: a
token expires on time however often it was seen. Closed accounts are refused after this
(chalicelib/revocation.py), never from here.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jwt

from . import errors
from .clock import clock
from .config import Settings, settings
from .edge import ROLES as ROLES

CLOCK_SKEW_SECONDS = 30
VERIFIED_CACHE_SIZE = 4096


@dataclass(frozen=True)
class Principal:
    user_id: str
    roles: frozenset[str]

    def has(self, role: str) -> bool:
        return role in self.roles


class _KeySource:
    def key_for(self, token: str) -> Any:  # pragma: no cover - interface
        raise NotImplementedError


class _JwksKeys(_KeySource):
    def __init__(self, url: str) -> None:
        self._client = jwt.PyJWKClient(url, cache_keys=True, lifespan=3600)

    def key_for(self, token: str) -> Any:
        try:
            return self._client.get_signing_key_from_jwt(token).key
        except jwt.PyJWKClientError as exc:
            raise errors.unauthorized("token_invalid", "the token's signing key is unknown") from exc


class _LocalKeys(_KeySource):
    def __init__(self, key_file: str) -> None:
        from .local.issuer import public_key

        self._key = public_key(key_file)

    def key_for(self, token: str) -> Any:
        return self._key


@lru_cache(maxsize=4)
def _keys(cfg: Settings) -> _KeySource:
    if cfg.is_local and cfg.local_jwt_key_file:
        return _LocalKeys(cfg.local_jwt_key_file)
    assert cfg.jwt_jwks_url
    return _JwksKeys(cfg.jwt_jwks_url)


@dataclass(frozen=True)
class _Verified:
    """What a verified token grants, and the time claims still to check at each use."""

    cfg: Settings
    principal: Principal
    exp: float
    iat: float
    nbf: float | None


_verified: OrderedDict[bytes, _Verified] = OrderedDict()


def verify(authorization: str | None, cfg: Settings | None = None) -> Principal:
    """The principal of a `Bearer` header, or a 401 problem."""
    cfg = cfg or settings()
    if not authorization:
        raise errors.unauthorized("token_missing", "an Authorization: Bearer token is required")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise errors.unauthorized("token_invalid", "the Authorization header must be 'Bearer <token>'")
    digest = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
    seen = _verified.get(digest)
    if seen is None or seen.cfg is not cfg:
        seen = _verify_token(token, cfg)
        _verified[digest] = seen
        while len(_verified) > VERIFIED_CACHE_SIZE:
            _verified.popitem(last=False)
    else:
        _verified.move_to_end(digest)
    _check_times(seen)
    return seen.principal


def _verify_token(token: str, cfg: Settings) -> _Verified:
    """Signature, algorithm, issuer, audience, the claims' shapes: everything but the clock."""
    try:
        header = jwt.get_unverified_header(token)
        if header.get("alg") != "RS256":
            raise errors.unauthorized("token_invalid", "only RS256 tokens are accepted")
        claims = jwt.decode(
            token,
            key=_keys(cfg).key_for(token),
            algorithms=["RS256"],
            audience=cfg.jwt_audiences,
            issuer=cfg.jwt_issuer,
            leeway=CLOCK_SKEW_SECONDS,
            # Time claims are checked below against the service clock, which the local
            # stage can move forward; PyJWT would use the wall clock.
            options={
                "require": ["exp", "iat", "sub", "iss"],
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
    except jwt.PyJWTError as exc:
        raise errors.unauthorized("token_invalid", "the token could not be verified") from exc
    exp, iat, nbf = claims.get("exp"), claims.get("iat"), claims.get("nbf")
    if not isinstance(exp, int | float) or not isinstance(iat, int | float):
        raise errors.unauthorized("token_invalid", "the token's time claims are malformed")
    if nbf is not None and (not isinstance(nbf, int | float) or isinstance(nbf, bool)):
        raise errors.unauthorized("token_invalid", "the token is not valid yet")
    raw_roles = claims.get(cfg.jwt_roles_claim) or []
    if isinstance(raw_roles, str):
        raw_roles = raw_roles.split(",")
    roles = frozenset(r for r in raw_roles if r in ROLES)
    sub = claims["sub"]
    if not isinstance(sub, str) or not sub or len(sub) > 128:
        raise errors.unauthorized("token_invalid", "the token has no usable subject")
    return _Verified(cfg, Principal(user_id=sub, roles=roles), exp, iat, nbf)


def _check_times(seen: _Verified) -> None:
    now = clock.now().timestamp()
    if seen.exp + CLOCK_SKEW_SECONDS < now:
        raise errors.unauthorized("token_expired", "the token has expired")
    if seen.iat - CLOCK_SKEW_SECONDS > now or (seen.nbf is not None and seen.nbf - CLOCK_SKEW_SECONDS > now):
        raise errors.unauthorized("token_invalid", "the token is not valid yet")


def require_role(principal: Principal, allowed: tuple[str, ...]) -> None:
    """The guard every route runs (`chalicelib/web/request.py`): support routes declare `SUPPORT`."""
    if not any(principal.has(r) for r in allowed):
        raise errors.forbidden("forbidden_role", f"this action needs the role {' or '.join(allowed)}")
