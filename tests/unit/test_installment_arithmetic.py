"""Installment arithmetic (SPEC 'Installments'): parts sum to principal + fee to the fen, no
part goes negative, through random plans, partial refunds and payoffs."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.services.installments.arithmetic import (
    CHINA,
    PartStatus,
    add_months,
    apply_refund,
    apr_bps,
    due_dates,
    fee_fen,
    min_principal_fen,
    payoff,
    schedule,
    schedule_checksum,
)

PART_COUNTS = st.sampled_from([3, 6, 12])
RATES = st.integers(min_value=0, max_value=3000)
RECEIPT = datetime(2026, 1, 24, 4, 0, tzinfo=UTC)


def test_fee_is_rounded_half_up_to_the_fen() -> None:
    assert fee_fen(10_000, 230) == 230
    assert fee_fen(150, 230) == 3  # 3.45 → 3
    assert fee_fen(50, 230) == 1  # 1.15 → 1
    assert fee_fen(2_174, 230) == 50  # 50.002 → 50
    assert fee_fen(6_522, 230) == 150  # 150.006
    assert fee_fen(10_650, 750) == 799  # 798.75 → 799
    assert fee_fen(1_010, 450) == 45  # 45.45 → 45
    assert fee_fen(1_090, 450) == 49  # 49.05 → 49
    assert fee_fen(1_000, 5) == 1  # 0.5 → 1 (half up)


def test_remainder_fen_go_on_the_first_part() -> None:
    parts = schedule(10_001, fee_fen(10_001, 230), 3)
    assert [p.amount_fen for p in parts] == [3_411, 3_410, 3_410]
    assert [p.fee_fen for p in parts] == [78, 76, 76]
    assert sum(p.amount_fen for p in parts) == 10_231


def test_a_plan_with_a_fee_shows_its_annualised_rate_and_one_without_shows_zero() -> None:
    parts = schedule(120_000, fee_fen(120_000, 750), 12)
    rate = apr_bps(120_000, [p.amount_fen for p in parts])
    # 7.5 % over 12 monthly parts is ~13.7 % a year; part 1 after 7 days (not a month) makes it more
    assert 1_500 < rate < 1_600
    assert apr_bps(10_000, [p.amount_fen for p in schedule(10_000, 0, 3)]) == 0


def test_due_dates_keep_the_day_of_the_month_clamped_to_its_end() -> None:
    first = datetime(2026, 1, 30, 16, 0, tzinfo=UTC)  # 31 January, 00:00 China time
    days = [d.astimezone(CHINA).date().isoformat() for d in due_dates(first, 3)]
    assert days == ["2026-01-31", "2026-02-28", "2026-03-31"]
    assert add_months(first, 12).astimezone(CHINA).date().isoformat() == "2027-01-31"


def test_the_checksum_changes_with_what_the_quote_shows() -> None:
    parts = schedule(10_000, 230, 3)
    one = schedule_checksum(principal_fen=10_000, parts=parts, fee_payer="consumer", apr=900)
    assert one == schedule_checksum(principal_fen=10_000, parts=parts, fee_payer="consumer", apr=900)
    assert one != schedule_checksum(principal_fen=10_000, parts=parts, fee_payer="merchant", apr=900)
    assert one != schedule_checksum(principal_fen=10_000, parts=schedule(10_000, 231, 3), fee_payer="consumer", apr=900)


def test_a_full_return_before_part_one_cancels_the_plan_and_its_fee() -> None:
    outcome = apply_refund(schedule(10_000, 230, 3), 10_000)
    assert all(p.status == PartStatus.REFUNDED and p.amount_fen == 0 for p in outcome.parts)
    assert (outcome.principal_reduced_fen, outcome.fee_reduced_fen, outcome.refund_to_payer_fen) == (10_000, 230, 0)


def test_a_partial_refund_shrinks_the_last_parts_and_returns_what_exceeds_the_unpaid_rest() -> None:
    parts = list(schedule(10_000, 230, 3))
    parts[0] = replace(parts[0], status=PartStatus.PAID)
    outcome = apply_refund(parts, 5_000)  # part 3 (3,334 principal) gone, part 2 loses 1,666
    assert outcome.parts[2].status == PartStatus.REFUNDED
    assert outcome.parts[1].principal_fen == 3_334 - 1_666
    assert outcome.refund_to_payer_fen == 0
    again = apply_refund(outcome.parts, 5_000)  # only 1,668 unpaid is left: the rest goes back
    assert again.principal_reduced_fen == 1_668 and again.refund_to_payer_fen == 5_000 - 1_668


def test_paying_everything_waives_the_fee_of_months_not_begun() -> None:
    parts = schedule(10_000, 230, 3)
    dues = due_dates(RECEIPT + timedelta(days=7), 3)
    at_once = payoff(parts, dues, RECEIPT)  # only part 1's month has begun
    assert at_once.fee_waived_fen == 76 + 76
    assert at_once.payoff_fen == 10_230 - 152
    after_part_one_due = payoff(parts, dues, dues[0])  # part 2's month has begun too
    assert after_part_one_due.fee_waived_fen == 76


@st.composite
def plans(draw: st.DrawFn) -> tuple[int, int, int]:
    n = draw(PART_COUNTS)
    principal = draw(st.integers(min_value=min_principal_fen(n), max_value=50_000_000))
    return principal, draw(RATES), n


@settings(max_examples=300, deadline=None)
@given(
    plan=plans(),
    events=st.lists(st.tuples(st.sampled_from(["pay", "refund", "payoff"]), st.integers(0, 10**8)), max_size=8),
)
def test_sums_stay_exact_and_no_part_goes_negative(plan: tuple[int, int, int], events: list[tuple[str, int]]) -> None:
    principal, rate, n = plan
    fee = fee_fen(principal, rate)
    parts = schedule(principal, fee, n)
    assert sum(p.amount_fen for p in parts) == principal + fee
    assert sum(p.fee_fen for p in parts) == fee
    dues = due_dates(RECEIPT + timedelta(days=7), n)
    # What the consumer paid plus what is still owed plus what was forgiven is always the whole.
    paid = refunded = forgiven_fee = 0
    refunded_principal = 0
    for kind, amount in events:
        if kind == "pay":
            nxt = next((p for p in parts if p.unpaid), None)
            if nxt is None:
                continue
            paid += nxt.amount_fen
            parts = tuple(
                p if p.seq != nxt.seq else p.__class__(p.seq, p.principal_fen, p.fee_fen, PartStatus.PAID)
                for p in parts
            )
        elif kind == "refund":
            cut = amount % (principal + 1)
            outcome = apply_refund(parts, cut)
            assert outcome.principal_reduced_fen + outcome.refund_to_payer_fen == cut
            assert outcome.principal_reduced_fen >= 0 and outcome.fee_reduced_fen >= 0
            refunded += outcome.refund_to_payer_fen
            refunded_principal += outcome.principal_reduced_fen
            forgiven_fee += outcome.fee_reduced_fen
            parts = outcome.parts
        else:
            now = RECEIPT + timedelta(days=amount % 400)
            done = payoff(parts, dues, now)
            unpaid_before = sum(p.amount_fen for p in parts if p.unpaid)
            assert done.payoff_fen + done.fee_waived_fen == unpaid_before
            paid += done.payoff_fen
            forgiven_fee += done.fee_waived_fen
            parts = done.parts
        assert all(p.principal_fen >= 0 and p.fee_fen >= 0 for p in parts)
        owed = sum(p.amount_fen for p in parts if p.unpaid)
        assert paid + owed + refunded_principal + forgiven_fee == principal + fee
    assert sum(p.principal_fen for p in parts) + refunded_principal == principal
