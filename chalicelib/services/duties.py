"""Separation of duties: nobody decides their own case (SPEC, "Conventions").

A person may hold several roles (a reviewer who also shops, support staff who also buy):
a reviewer never decides their own redemption, support never their own order's dispute.
Every decision route calls `refuse_own_case` with the case's owner before deciding.
"""

from __future__ import annotations

from .. import errors

OWN_CASE = "own_case"
OWN_CASE_ERRORS = errors.raises(forbidden=[OWN_CASE])


def refuse_own_case(actor_id: str, owner_id: str, case: str) -> None:
    """403 `own_case` when the decider is the person the case is about."""
    if actor_id == owner_id:
        raise errors.forbidden(OWN_CASE, f"nobody decides their own {case}; another colleague must")
