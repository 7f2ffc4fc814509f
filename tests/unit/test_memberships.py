"""Tier floors: a paid membership buys a tier for months and lapses; staff can assign a tier as a floor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from builders import Member, club, kr, line, new_id

from processors.compiled import compiled
from processors.events import ClockTick, MembershipPaid, TierAssigned
from processors.program import Membership, TierReview
from processors.tiers import held_tier

PLUS = Membership(id="plus", name="Club Plus", fee_minor=kr(499), tier="Gold", months=12, warn_days=14)
PROGRAM = club(memberships=(PLUS,), tier_review=TierReview(at="month_end"))
T = datetime(2024, 3, 1, 12, tzinfo=UTC)


def tick(someone: Member, day: datetime) -> None:
    someone.now = day
    someone.apply(ClockTick(f"tick:{someone.member_id}:{day.date()}", someone.member_id, day, "scheduler"))


def held(someone: Member) -> str:
    """The tier the member holds: the one they earned, or their floor while it lasts if that is higher."""
    assert someone.state is not None
    return held_tier(someone.state, compiled(someone.program)).name


def pay(someone: Member, fee_minor: int = kr(499), plan: str = "plus") -> None:
    someone.apply(MembershipPaid(new_id("fee"), someone.member_id, someone.later(), "app", plan, fee_minor, "SEK"))


def test_a_fee_buys_gold_for_a_year_with_a_reminder_then_it_lapses_to_what_the_record_supports() -> None:
    pia = Member(PROGRAM, "pia", T)
    pia.enrol()
    pay(pia)  # Gold until 2025-03-01 14:00
    assert held(pia) == "Gold"
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
    assert held(pia) == "Silver"

    tick(pia, datetime(2024, 6, 16, 6, tzinfo=UTC))

    assert held(pia) == "Member"
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


YEARLY = club(memberships=(PLUS,), tier_review=TierReview(at="year_end", policy="one_step", grace_periods=1))


def gold_by_spend(with_membership: bool) -> Member:
    """Gold on 2024-03-01 by 10,000 kr; then, maybe, Club Plus (Gold until 2025-03-01); daily ticks into 2027."""
    eva = Member(YEARLY, "eva", T)
    eva.enrol()
    eva.buy(line(kr(10_000)))
    if with_membership:
        pay(eva)
    day = datetime(2024, 3, 2, 0, 1, tzinfo=UTC)
    while day < datetime(2027, 1, 2, tzinfo=UTC):
        tick(eva, day)
        day += timedelta(days=1)
    return eva


def test_a_membership_at_the_tier_a_member_earned_leaves_it_to_the_reviews_when_it_lapses() -> None:
    # 2025-01-01 judges 2024 (10,000 kr): Gold kept. 2025-03-02 the membership lapses with nothing spent in the
    # last 12 months: Gold stays, as it would have without the membership. 2026-01-01 judges 2025 (0 kr): the
    # review of grace. 2027-01-01 judges 2026 (0 kr): one step down to Silver.
    eva, ada = gold_by_spend(with_membership=True), gold_by_spend(with_membership=False)

    steps = [(c.from_tier, c.to_tier, c.occurred_at.date().isoformat()) for c in eva.tier_changes]
    assert steps == [("Member", "Gold", "2024-03-01"), ("Gold", "Silver", "2027-01-01")]
    assert steps == [(c.from_tier, c.to_tier, c.occurred_at.date().isoformat()) for c in ada.tier_changes]
    lapsed = next(t for t in eva.triggers if t.kind == "membership_lapsed")
    assert lapsed.message == "Your Club Plus membership ended on 2025-03-01; you keep Gold, the tier you earned."
    assert [t.kind for t in eva.triggers if t.kind == "tier_at_risk"] == ["tier_at_risk"]


def test_a_floor_above_the_earned_tier_ends_at_the_tier_the_reviews_kept() -> None:
    # Silver by 5,000 kr on 2024-03-01; staff lift her to Gold until 2025-06-01. The review on 2025-01-01 judges
    # 2024 (5,000 kr): Silver holds. When Gold ends, nothing is left in the last 12 months, yet Silver is hers
    # until a review finds otherwise (2026-01-01, with a review of grace): not the base tier.
    ola = Member(YEARLY, "ola", T)
    ola.enrol()
    ola.buy(line(kr(5_000)))
    ola.apply(TierAssigned(new_id("crm"), "ola", ola.later(), "crm", "Gold", datetime(2025, 6, 1, tzinfo=UTC),
                           "goodwill"))
    tick(ola, datetime(2024, 6, 1, tzinfo=UTC))
    tick(ola, datetime(2025, 1, 1, tzinfo=UTC))
    tick(ola, datetime(2025, 6, 2, tzinfo=UTC))

    assert [(c.from_tier, c.to_tier) for c in ola.tier_changes] == [
        ("Member", "Silver"), ("Silver", "Gold"), ("Gold", "Silver")]
    assert ola.tier_changes[-1].reason == ("the assigned tier Gold ended on 2025-06-01, and qualifying spend 0.00 SEK "
                                           "in the last 12 months is under Gold's 10,000.00 SEK")
    assert held(ola) == "Silver"
    tick(ola, datetime(2026, 1, 1, tzinfo=UTC))
    assert held(ola) == "Silver" and ola.triggers[-1].kind == "tier_at_risk"


def test_reviews_judge_the_earned_tier_under_a_floor_and_a_drop_shows_only_when_the_floor_ends() -> None:
    # Silver by 5,000 kr on 2024-03-01, Club Plus (Gold) bought the same day. 2025-01-01 judges 2024: Silver
    # holds. 2026-01-01 judges 2025 (0 kr): Silver's grace, which the member does not hear about (the
    # membership, renewed, keeps Gold). 2027-01-01: Silver ends, still unheard. Then the membership lapses.
    ivy = Member(YEARLY, "ivy", T)
    ivy.enrol()
    ivy.buy(line(kr(5_000)))
    pay(ivy)
    tick(ivy, datetime(2024, 6, 1, tzinfo=UTC))
    for year in (2025, 2026):
        tick(ivy, datetime(year, 1, 1, tzinfo=UTC))
        ivy.now = datetime(year, 2, 1, tzinfo=UTC)
        pay(ivy)
    tick(ivy, datetime(2027, 1, 1, tzinfo=UTC))
    assert held(ivy) == "Gold" and ivy.state is not None and ivy.state.tier == "Member"
    assert not [t for t in ivy.triggers if t.kind in ("tier_at_risk", "tier_down")]

    tick(ivy, datetime(2027, 3, 2, tzinfo=UTC))

    assert [(c.from_tier, c.to_tier) for c in ivy.tier_changes] == [
        ("Member", "Silver"), ("Silver", "Gold"), ("Gold", "Member")]


def test_early_renewals_run_to_the_day_the_membership_was_bought_on_each_month() -> None:
    # A month bought on 31 January 2025 runs to 28 February; renewed on 20 February, it runs one more month from
    # the 31st, to 31 March (not 28 March); renewed on 20 March, to 30 April: three months from 31 January.
    monthly = Membership(id="plus", name="Club Plus", fee_minor=kr(49), tier="Gold", months=1)
    pia = Member(club(memberships=(monthly,)), "pia", T)
    pia.enrol()
    ends = []
    for day in (datetime(2025, 1, 31, 12, tzinfo=UTC), datetime(2025, 2, 20, 12, tzinfo=UTC),
                datetime(2025, 3, 20, 12, tzinfo=UTC)):
        pia.apply(MembershipPaid(new_id("fee"), "pia", day, "app", "plus", kr(49), "SEK"))
        assert pia.state is not None and pia.state.tier_floor_until is not None
        ends.append(pia.state.tier_floor_until.date().isoformat())

    assert ends == ["2025-02-28", "2025-03-31", "2025-04-30"]
