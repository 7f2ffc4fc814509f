"""Giving points to a cause: a ledger entry naming the cause, refused with a reason when it cannot be."""

from __future__ import annotations

from builders import Member, club, new_id

from processors.events import Donation
from processors.outputs import LedgerReason
from processors.program import Cause


def donor() -> Member:
    member = Member(club(causes=(Cause(id="sea", name="Clean Seas"),)), "dana")
    member.enrol()  # 100 welcome points
    return member


def give(member: Member, cause: str, points: int) -> Donation:
    return Donation(new_id("gift"), member.member_id, member.later(), "app", cause, points)


def test_a_donation_is_a_ledger_entry_with_its_cause() -> None:
    dana = donor()

    dana.apply(give(dana, "sea", 60))

    entry = dana.ledger[-1]
    assert (entry.reason, entry.points, entry.balance_after, entry.cause) == (LedgerReason.DONATION, -60, 40, "sea")
    assert entry.detail == "Donated 60 points to Clean Seas"


def test_an_unknown_cause_or_too_few_points_are_refused_with_the_reason() -> None:
    dana = donor()

    unknown = dana.apply(give(dana, "zoo", 10))
    too_many = dana.apply(give(dana, "sea", 101))

    assert unknown.refusal is not None and unknown.refusal.reason == "cause 'zoo' is not one of Club's causes (sea)"
    assert too_many.refusal is not None and "has 100 points to spend, fewer than the 101 points to donate" in (
        too_many.refusal.reason)
    assert dana.balance == 100
