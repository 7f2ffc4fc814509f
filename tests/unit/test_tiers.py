"""Moving up the tiers with qualifying spend, and hearing about the next one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from builders import Member, club, kr, line, purchase

from processors.events import ClockTick
from processors.outputs import TierChanged
from processors.program import TierReview


def test_reaching_a_tiers_spend_moves_the_member_up_at_once(anna: Member) -> None:
    anna.buy(line(kr(4_000)))
    assert anna.tier_changes == []

    decision = anna.buy(line(kr(1_000)))

    assert anna.state is not None and anna.state.tier == "Silver"
    change = next(o for o in decision.outputs if isinstance(o, TierChanged))
    assert (change.from_tier, change.to_tier, change.qualifying_spend_minor) == (
        "Member",
        "Silver",
        kr(5_000),
    )
    assert change.change_id == f"{change.event_id}:tier"
    assert "5,000.00 SEK" in change.reason
    tier_up = [t for t in anna.triggers if t.kind == "tier_up"]
    assert len(tier_up) == 1
    assert tier_up[0].attributes == {"from_tier": "Member", "to_tier": "Silver"}


def test_tier_changes_are_numbered_in_the_order_applied_even_when_events_come_out_of_time_order(
        anna: Member) -> None:
    anna.buy(line(kr(5_000)))  # Silver
    earlier = anna.now - timedelta(minutes=30)  # from another source, sent before but arriving after
    anna.apply(purchase(anna.member_id, line(kr(5_000)), at=earlier))  # Gold

    changes = anna.tier_changes
    assert [(c.to_tier, c.number) for c in changes] == [("Silver", 1), ("Gold", 2)]
    assert changes[1].occurred_at < changes[0].occurred_at  # by event time the Gold change would come first
    assert anna.state is not None and anna.state.tier_changes == 2


def test_one_big_purchase_can_skip_a_tier(anna: Member) -> None:
    anna.buy(line(kr(12_000)))

    assert [(c.from_tier, c.to_tier) for c in anna.tier_changes] == [("Member", "Gold")]


def test_the_member_hears_once_when_close_to_the_next_tier(anna: Member) -> None:
    # 80% of Silver's 5,000 kr is 4,000 kr.
    anna.buy(line(kr(3_999)))
    assert [t for t in anna.triggers if t.kind == "near_tier"] == []

    anna.buy(line(kr(1)))
    anna.buy(line(kr(500)))

    near = [t for t in anna.triggers if t.kind == "near_tier"]
    assert len(near) == 1
    assert near[0].message == "You are 1,000.00 SEK from Silver"
    assert near[0].attributes == {"next_tier": "Silver", "measure": "spend", "missing": str(kr(1_000)),
                                  "missing_minor": str(kr(1_000))}
    assert anna.state is not None and anna.state.near_tier_notified == "Silver"


def test_after_moving_up_the_member_hears_about_the_tier_after(anna: Member) -> None:
    anna.buy(line(kr(4_000)))  # near Silver
    anna.buy(line(kr(4_000)))  # Silver at 8,000 kr, which is 80% of Gold's 10,000 kr

    near = [t.attributes["next_tier"] for t in anna.triggers if t.kind == "near_tier"]
    assert near == ["Silver", "Gold"]


def test_a_gift_card_does_not_count_towards_a_tier(anna: Member) -> None:
    anna.buy(line(kr(20_000), "gift_card"))

    assert anna.state is not None and anna.state.tier == "Member"


def test_spend_counts_for_the_qualifying_months_ending_with_this_month() -> None:
    member = Member(club(qualifying_months=3))
    member.enrol()
    member.buy(line(kr(3_000)))  # March
    member.later(days=31)
    member.buy(line(kr(1_000)))  # April
    member.later(days=61)
    member.buy(line(kr(1_500)))  # June: March is out of the window, April and June count

    assert member.state is not None  # March is kept one window more, for a review of the window before
    assert member.state.spend_by_month == {"2024-03": kr(3_000), "2024-04": kr(1_000), "2024-06": kr(1_500)}
    assert member.state.tier == "Member"
    member.buy(line(kr(2_500)))  # 5,000 kr over April-June
    assert member.state.tier == "Silver"


def test_nobody_moves_down_yet(anna: Member) -> None:
    anna.reach("Silver")
    anna.later(days=400)

    anna.buy(line(kr(10)))

    assert anna.state is not None and anna.state.tier == "Silver"


def reviewed(policy: str = "one_step", grace: int = 0) -> Member:
    """Gold since March 2024 (10,000 kr); the clock has seen 2024."""
    member = Member(club(tier_review=TierReview(at="year_end", policy=policy, grace_periods=grace)), "gus")
    member.enrol()
    member.reach("Gold")
    tick_at(member, datetime(2024, 6, 1, tzinfo=UTC))
    return member


def tick_at(member: Member, when: datetime) -> None:
    member.now = when
    member.apply(ClockTick(f"tick:{member.member_id}:{when.date()}", member.member_id, when, "scheduler"))


def test_at_year_end_a_member_the_spend_no_longer_supports_moves_one_step_down() -> None:
    gus = reviewed()

    tick_at(gus, datetime(2025, 1, 1, tzinfo=UTC))  # March 2024 still inside the 12 months: stays Gold
    tick_at(gus, datetime(2026, 1, 1, tzinfo=UTC))  # nothing left: one step down to Silver
    tick_at(gus, datetime(2026, 1, 2, tzinfo=UTC))  # one review a period

    assert [(c.from_tier, c.to_tier) for c in gus.tier_changes] == [("Member", "Gold"), ("Gold", "Silver")]
    assert gus.tier_changes[-1].reason.startswith("review at year end: qualifying spend 0.00 SEK")
    assert [t.kind for t in gus.triggers][-1] == "tier_down"


def test_grace_keeps_the_tier_for_a_review_and_to_qualified_goes_straight_down() -> None:
    gus = reviewed(policy="to_qualified", grace=1)

    tick_at(gus, datetime(2026, 1, 1, tzinfo=UTC))
    assert gus.state is not None and gus.state.tier == "Gold"
    assert [t.kind for t in gus.triggers][-1] == "tier_at_risk"

    tick_at(gus, datetime(2027, 1, 1, tzinfo=UTC))
    assert gus.state.tier == "Member"


def test_a_tier_reached_afresh_gets_its_own_grace_whatever_the_tier_below_used() -> None:
    gus = Member(club(tier_review=TierReview(at="year_end", policy="one_step", grace_periods=1)), "gus")
    gus.enrol()
    gus.buy(line(kr(5_000)))  # March 2024: Silver
    tick_at(gus, datetime(2024, 6, 1, tzinfo=UTC))
    gus.now = datetime(2025, 12, 10, tzinfo=UTC)
    gus.buy(line(kr(4_000)))
    tick_at(gus, datetime(2026, 1, 1, tzinfo=UTC))  # 2025: 4,000 kr, under Silver's 5,000: Silver's review of grace
    gus.now = datetime(2026, 1, 10, tzinfo=UTC)
    gus.buy(line(kr(6_000)))  # February 2025 to January 2026: 10,000 kr, Gold

    tick_at(gus, datetime(2027, 1, 1, tzinfo=UTC))  # 2026: 6,000 kr, under Gold's 10,000: Gold's review of grace

    assert gus.state is not None and gus.state.tier == "Gold"
    assert [t.message for t in gus.triggers if t.kind == "tier_at_risk"] == [
        "You keep Silver for now: qualifying spend 4,000.00 SEK in the last 12 months is under Silver's "
        "5,000.00 SEK (the last review of grace).",
        "You keep Gold for now: qualifying spend 6,000.00 SEK in the last 12 months is under Gold's "
        "10,000.00 SEK (the last review of grace).",
    ]
    tick_at(gus, datetime(2028, 1, 1, tzinfo=UTC))  # 2027: nothing, and no grace left: one step down
    assert [(c.from_tier, c.to_tier) for c in gus.tier_changes] == [
        ("Member", "Silver"), ("Silver", "Gold"), ("Gold", "Silver")]
