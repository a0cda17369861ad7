"""Local-stage tools: demo tokens, the movable clock, run a job, drain the queues, sandbox
identities, a reset to a clean stack.

Mounted only when the stage is `local`; absent from every deployed stage.
"""

from __future__ import annotations

import secrets
from datetime import date, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from .. import errors, schedules
from ..clock import clock, iso
from ..config import settings
from ..local import handlers, resources, seed, worker
from ..local.issuer import mint
from ..schemas.common import Body, View, example
from ..services.validators import id_check_char, luhn_ok
from ..web import PUBLIC, Ctx, Reply, Router

router = Router("dev", local_only=True)  # served by the local stage only
QUEUE_HANDLERS: dict[str, worker.QueueHandler] = handlers.QUEUE_HANDLERS  # filled by app.py


class TokenIn(Body):
    model_config = example({"sub": "demo-consumer", "roles": ["consumer"]})

    sub: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_\-]{1,64}$")]
    roles: Annotated[
        list[Literal["consumer", "merchant", "reviewer", "support", "risk"]], Field(min_length=1, max_length=5)
    ]


class TokenView(View):
    token: str
    token_type: str = "Bearer"
    expires_in: int


class ClockIn(Body):
    model_config = example({"advance_seconds": 86400})

    advance_seconds: Annotated[int, Field(ge=0, le=400 * 86400)]


class ClockView(View):
    now: str
    offset_seconds: int


class JobView(View):
    job: str
    result: dict[str, Any]


class DrainView(View):
    processed: dict[str, int] = Field(description="messages this call handled, per queue")
    outstanding: int = Field(description="messages still waiting or in flight (0 unless the drain timed out)")


@router.route("/v1/dev/tokens", "POST", roles=PUBLIC, body=TokenIn, response=TokenView, status=201)
def issue_token(ctx: Ctx) -> TokenView:
    """Mint a demo token signed by the local issuer."""
    cfg = settings()
    body: TokenIn = ctx.body
    assert cfg.local_jwt_key_file
    from ..local.issuer import TOKEN_LIFETIME

    token = mint(
        cfg.local_jwt_key_file,
        sub=body.sub,
        roles=list(body.roles),
        issuer=cfg.jwt_issuer,
        audience=cfg.jwt_audience,
        roles_claim=cfg.jwt_roles_claim,
        now=clock.now(),
    )
    return TokenView(token=token, expires_in=int(TOKEN_LIFETIME.total_seconds()))


@router.route("/v1/dev/clock", "GET", roles=PUBLIC, response=ClockView)
def read_clock(ctx: Ctx) -> ClockView:
    """The service clock."""
    return ClockView(now=iso(clock.now()), offset_seconds=clock.offset_seconds)


@router.route("/v1/dev/clock", "POST", roles=PUBLIC, body=ClockIn, response=ClockView)
def advance_clock(ctx: Ctx) -> ClockView:
    """Move the service clock forward for the API, the schedules and the worker."""
    body: ClockIn = ctx.body
    clock.advance(body.advance_seconds)
    return ClockView(now=iso(clock.now()), offset_seconds=clock.offset_seconds)


@router.route("/v1/dev/jobs/{job}", "POST", roles=PUBLIC, response=JobView, errors={404: ["unknown_job"]})
def run_job(ctx: Ctx, job: str) -> JobView:
    """Run one scheduled job now."""
    if job not in schedules.names():
        raise errors.not_found("unknown_job", f"jobs are: {', '.join(schedules.names())}")
    return JobView(job=job, result=schedules.run(job, clock.now()))


@router.route("/v1/dev/queue/drain", "POST", roles=PUBLIC, response=DrainView)
def drain_queues(ctx: Ctx) -> Reply:
    """A barrier: process the queues and return once nothing waits or is in flight."""
    processed = worker.drain(QUEUE_HANDLERS)
    return Reply(DrainView(processed=processed, outstanding=worker.outstanding(QUEUE_HANDLERS)))


class SandboxQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    card: Literal[
        "succeeds", "declines", "insufficient_funds", "times_out_then_succeeds", "times_out_then_declines"
    ] = Field(default="succeeds", description="what the sandbox card gateway does when the card is charged")


# The sandbox card gateway's outcome by the last four digits (channels/card.py); any other
# ending succeeds.
CARD_ENDINGS = {
    "declines": "0002",
    "times_out_then_succeeds": "0003",
    "times_out_then_declines": "0004",
    "insufficient_funds": "0005",
}


class SandboxView(View):
    real_name: str
    id_number: str = Field(description="a resident ID number with a valid check digit, of an adult born 1970-1999")
    card_number: str = Field(
        description="a 19-digit UnionPay-style card number with a valid Luhn digit, ending as `card` asks"
    )


def sandbox_id_number() -> str:
    """A fresh, valid resident ID number (Beijing Chaoyang's region code; each call another)."""
    born = date(1970, 1, 1) + timedelta(days=secrets.randbelow(365 * 30))
    first17 = f"110105{born:%Y%m%d}{secrets.randbelow(1000):03d}"
    return first17 + id_check_char(first17)


def sandbox_card_number(card: str = "succeeds") -> str:
    """A fresh 19-digit card number that passes Luhn and ends as the sandbox gateway reads
    `card` (a card that succeeds never ends in one of the failing endings)."""
    last4 = CARD_ENDINGS.get(card)
    while last4 is None or (card == "succeeds" and last4 in CARD_ENDINGS.values()):
        last4 = f"{secrets.randbelow(10_000):04d}"
    head = "622202" + "".join(str(secrets.randbelow(10)) for _ in range(8))
    # One digit before the ending makes the Luhn sum right (each position maps 0-9 one to one).
    return next(head + d + last4 for d in "0123456789" if luhn_ok(head + d + last4))


@router.route("/v1/dev/sandbox", "GET", roles=PUBLIC, query=SandboxQuery, response=SandboxView)
def sandbox_identity(ctx: Ctx) -> SandboxView:
    """A new sandbox person: a name, an ID number and a card number the checks accept; `card`
    picks how the sandbox gateway treats the card (it succeeds unless asked otherwise)."""
    q: SandboxQuery = ctx.query
    return SandboxView(real_name="测试用户", id_number=sandbox_id_number(), card_number=sandbox_card_number(q.card))


class ResetView(View):
    now: str = Field(description="the service clock, back at real time")
    seeded: list[str] = Field(description="the demo data seeded again")


@router.route("/v1/dev/reset", "POST", roles=PUBLIC, response=ResetView)
def reset_stack(ctx: Ctx) -> ResetView:
    """A clean stack for the next walk (`make reset`): every table and queue emptied, the
    clock back at real time, the demo data seeded again."""
    resources.empty_all()
    clock.reset()
    return ResetView(now=iso(clock.now()), seeded=seed.seed_all(clock.now()))
