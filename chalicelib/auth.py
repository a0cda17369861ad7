"""Bearer JWT verification (RS256 against a JWKS) and the caller's roles.

In the cloud the JWKS is the Cognito user pool's; in the local stage it is the local
issuer's key. The verification code is the same for both.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jwt

from . import errors
from .clock import clock
from .config import Settings, settings

ROLES = ("consumer", "merchant", "reviewer", "support")
CLOCK_SKEW_SECONDS = 30


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


def verify(authorization: str | None, cfg: Settings | None = None) -> Principal:
    """The principal of a `Bearer` header, or a 401 problem."""
    cfg = cfg or settings()
    if not authorization:
        raise errors.unauthorized("token_missing", "an Authorization: Bearer token is required")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise errors.unauthorized("token_invalid", "the Authorization header must be 'Bearer <token>'")
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
    now = clock.now().timestamp()
    exp, iat = claims.get("exp"), claims.get("iat")
    if not isinstance(exp, int | float) or not isinstance(iat, int | float):
        raise errors.unauthorized("token_invalid", "the token's time claims are malformed")
    if exp + CLOCK_SKEW_SECONDS < now:
        raise errors.unauthorized("token_expired", "the token has expired")
    if iat - CLOCK_SKEW_SECONDS > now:
        raise errors.unauthorized("token_invalid", "the token is not valid yet")
    nbf = claims.get("nbf")
    if nbf is not None and (
        not isinstance(nbf, int | float) or isinstance(nbf, bool) or nbf - CLOCK_SKEW_SECONDS > now
    ):
        raise errors.unauthorized("token_invalid", "the token is not valid yet")
    raw_roles = claims.get(cfg.jwt_roles_claim) or []
    if isinstance(raw_roles, str):
        raw_roles = raw_roles.split(",")
    roles = frozenset(r for r in raw_roles if r in ROLES)
    sub = claims["sub"]
    if not isinstance(sub, str) or not sub or len(sub) > 128:
        raise errors.unauthorized("token_invalid", "the token has no usable subject")
    return Principal(user_id=sub, roles=roles)


def require_role(principal: Principal, allowed: tuple[str, ...]) -> None:
    """The guard every route runs (`chalicelib/web.py`): support routes declare `SUPPORT`."""
    if not any(principal.has(r) for r in allowed):
        raise errors.forbidden("forbidden_role", f"this action needs the role {' or '.join(allowed)}")
