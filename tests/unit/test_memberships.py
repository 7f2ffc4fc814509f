"""Tier floors: a paid membership buys a tier for months and lapses; staff can assign a tier as a floor."""

from __future__ import annotations

from datetime import UTC, datetime

from builders import Member, club, kr, line, new_id

from processors.events import ClockTick, MembershipPaid, TierAssigned
from processors.program import Membership, TierReview

PLUS = Membership(id="plus", name="Club Plus", fee_minor=kr(499), tier="Gold", months=12, warn_days=14)
PROGRAM = club(memberships=(PLUS,), tier_review=TierReview(at="month_end"))
T = datetime(2024, 3, 1, 12, tzinfo=UTC)


def tick(someone: Member, day: datetime) -> None:
    someone.now = day
    someone.apply(ClockTick(f"tick:{someone.member_id}:{day.date()}", someone.member_id, day, "scheduler"))


def pay(someone: Member, fee_minor: int = kr(499), plan: str = "plus") -> None:
    someone.apply(MembershipPaid(new_id("fee"), someone.member_id, someone.later(), "app", plan, fee_minor, "SEK"))


def test_a_fee_buys_gold_for_a_year_with_a_reminder_then_it_lapses_to_what_the_record_supports() -> None:
    pia = Member(PROGRAM, "pia", T)
    pia.enrol()
    pay(pia)  # Gold until 2025-03-01 14:00
    assert pia.state is not None and pia.state.tier == "Gold"
    tick(pia, datetime(2024, 4, 1, 6, tzinfo=UTC))  # a month-end review: the floor keeps Gold
    pia.buy(line(kr(5_000)))  # Silver's spend

    tick(pia, datetime(2025, 2, 16, 6, tzinfo=UTC))  # 14 days before: reminded once
    tick(pia, datetime(2025, 2, 17, 6, tzinfo=UTC))
    tick(pia, datetime(2025, 3, 2, 6, tzinfo=UTC))  # lapsed: the last 12 months' 5,000 kr support Silver

    kinds = [t.kind for t in pia.triggers if t.kind.startswith(("membership", "tier"))]
    assert kinds == ["tier_up", "membership_started", "membership_expiring", "membership_lapsed"]
    assert [(c.from_tier, c.to_tier) for c in pia.tier_changes] == [("Member", "Gold"), ("Gold", "Silver")]
    assert pia.tier_changes[0].reason == "Club Plus membership until 2025-03-01"
    assert pia.tier_changes[1].reason == ("Club Plus membership ended on 2025-03-01, and qualifying spend "
                                          "5,000.00 SEK in the last 12 months is under Gold's 10,000.00 SEK")
    assert pia.state.tier_floor is None and pia.state.membership is None


def test_renewing_before_the_end_adds_the_months_to_what_is_left() -> None:
    pia = Member(PROGRAM, "pia", T)
    pia.enrol()
    pay(pia)
    pia.now = datetime(2025, 2, 1, tzinfo=UTC)
    pay(pia)

    assert pia.state is not None and pia.state.tier_floor_until == datetime(2026, 3, 1, 14, tzinfo=UTC)
    assert [t.kind for t in pia.triggers if t.kind.startswith("membership")] == [
        "membership_started", "membership_renewed"]


def test_a_wrong_fee_or_an_unknown_membership_is_refused_with_the_reason() -> None:
    pia = Member(PROGRAM, "pia", T)
    pia.enrol()

    pay(pia, fee_minor=kr(100))
    assert pia.last is not None and pia.last.refusal is not None
    assert pia.last.refusal.reason == ("Club Plus costs 499.00 SEK, but 100.00 SEK was paid: "
                                       "send the membership's fee in the program's currency")
    pay(pia, plan="vip")
    assert pia.last.refusal is not None and pia.last.refusal.reason == "membership 'vip' is not one of Club's (plus)"
    assert pia.state is not None and pia.state.tier == "Member"


def test_an_assigned_tier_is_a_floor_reviews_respect_until_it_ends() -> None:
    pia = Member(PROGRAM, "pia", T)
    pia.enrol()
    pia.apply(TierAssigned(new_id("crm"), "pia", pia.later(), "crm", "Silver", datetime(2024, 6, 15, tzinfo=UTC),
                           "store manager's welcome for a VIP"))
    tick(pia, datetime(2024, 4, 1, 6, tzinfo=UTC))
    tick(pia, datetime(2024, 5, 1, 6, tzinfo=UTC))
    assert pia.state is not None and pia.state.tier == "Silver"

    tick(pia, datetime(2024, 6, 16, 6, tzinfo=UTC))

    assert pia.state.tier == "Member"
    assert [(c.from_tier, c.to_tier) for c in pia.tier_changes] == [("Member", "Silver"), ("Silver", "Member")]
    assert pia.tier_changes[0].reason == "assigned: store manager's welcome for a VIP"
    assert pia.triggers[-1].kind == "tier_floor_ended"


def test_assigning_an_unknown_tier_is_refused_and_the_base_tier_removes_the_floor() -> None:
    pia = Member(PROGRAM, "pia", T)
    pia.enrol()
    refused = pia.apply(TierAssigned(new_id("crm"), "pia", pia.later(), "crm", "Diamond", None, "typo"))
    pia.apply(TierAssigned(new_id("crm"), "pia", pia.later(), "crm", "Gold", None, "for good"))
    pia.apply(TierAssigned(new_id("crm"), "pia", pia.later(), "crm", "Member", None, "floor removed"))

    assert refused.refusal is not None
    assert refused.refusal.reason == "tier 'Diamond' is not one of Club's tiers (Member, Silver, Gold)"
    assert pia.state is not None and (pia.state.tier, pia.state.tier_floor) == ("Gold", None)
