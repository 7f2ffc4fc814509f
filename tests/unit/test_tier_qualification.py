"""Tiers qualified by visits or points earned as well as spend, in rolling or calendar periods."""

from __future__ import annotations

from datetime import UTC, datetime

from builders import Member, club, kr, line

from processors.events import ClockTick
from processors.program import TierPolicy, TierReview

BY_ANY = (
    TierPolicy(name="Member"),
    TierPolicy(name="Silver", qualifying_spend_minor=kr(5_000), qualifying_visits=4),
    TierPolicy(name="Gold", qualifying_points=1_000),
)


def tick(someone: Member, day: datetime) -> None:
    someone.now = day
    someone.apply(ClockTick(f"tick:{someone.member_id}:{day.date()}", someone.member_id, day, "scheduler"))


def test_four_visits_reach_silver_though_the_spend_is_far_below_it() -> None:
    ida = Member(club(tiers=BY_ANY), "ida")
    ida.enrol()
    for _ in range(4):
        ida.buy(line(kr(50)))

    assert ida.state is not None and ida.state.tier == "Silver"
    assert ida.tier_changes[0].reason == "4 visits in the last 12 months reached Silver's 4 visits"


def test_points_earned_not_the_balance_reach_gold_and_the_nudge_counts_points() -> None:
    ida = Member(club(tiers=BY_ANY, near_tier_threshold_bp=8_000), "ida")
    ida.enrol()  # 100 welcome points are not earned on purchases: they do not count
    ida.buy(line(kr(8_000)))  # 800 points: 80% of Gold

    nudge = next(t for t in ida.triggers if t.kind == "near_tier" and t.attributes["next_tier"] == "Gold")
    assert nudge.message == "You are 200 points from Gold"
    assert nudge.attributes == {"next_tier": "Gold", "measure": "points", "missing": "200"}
    ida.buy(line(kr(2_000)))
    assert ida.state is not None and ida.state.tier == "Gold"


def test_a_return_takes_its_points_off_the_record() -> None:
    ida = Member(club(tiers=BY_ANY), "ida")
    ida.enrol()
    ida.buy(line(kr(9_000), line_id="a"), order_id="O1")  # 900 points
    ida.give_back("O1", a=1)
    ida.buy(line(kr(1_000)))  # 100 points: 100 in the record, not 1,000

    assert ida.state is not None and ida.state.tier != "Gold"


def test_a_calendar_year_starts_afresh_and_the_review_judges_the_year_that_ended() -> None:
    program = club(qualifying_period="calendar", tier_review=TierReview(at="year_end", policy="to_qualified"))
    ida = Member(program, "ida", datetime(2024, 11, 1, 9, tzinfo=UTC))
    ida.enrol()
    tick(ida, datetime(2024, 11, 2, 6, tzinfo=UTC))  # the first tick notes the period
    ida.buy(line(kr(10_000)))  # Gold in 2024
    ida.now = datetime(2025, 1, 1, 5, tzinfo=UTC)
    ida.buy(line(kr(100)))  # 2025 starts from 100 kr: Gold stays, the year ended is what counts
    tick(ida, datetime(2025, 1, 1, 6, tzinfo=UTC))  # review of 2024: 10,000 kr supports Gold
    assert ida.state is not None and ida.state.tier == "Gold"

    tick(ida, datetime(2026, 1, 1, 6, tzinfo=UTC))  # review of 2025: 100 kr supports only Member

    assert ida.state.tier == "Member"
    assert ida.tier_changes[-1].reason == (
        "review at year end: qualifying spend 100.00 SEK in 2025 is under Gold's 10,000.00 SEK")


def test_a_purchase_with_no_qualifying_spend_is_no_visit() -> None:
    ida = Member(club(tiers=BY_ANY), "ida")
    ida.enrol()
    for _ in range(4):
        ida.buy(line(kr(500), "gift_card"))  # excluded: no qualifying spend

    assert ida.state is not None and ida.state.tier == "Member" and ida.state.visits_by_month == {}
    ida.buy(line(kr(50)), line(kr(100), "gift_card"))
    assert ida.state.visits_by_month == {"2024-03": 1}


def test_returning_a_whole_order_takes_its_visit_back_in_the_month_it_counted_in() -> None:
    # March: three orders, three visits. 2 April: the first is returned in full (March back to two visits), and
    # one of the second's two shirts (it still qualifies: its visit stays). April's first order is the third
    # visit, its second the fourth: Silver.
    ida = Member(club(tiers=BY_ANY), "ida", datetime(2024, 3, 20, 9, tzinfo=UTC))
    ida.enrol()
    ida.buy(line(kr(50), quantity=2, line_id="a"), order_id="O1")
    ida.buy(line(kr(50), quantity=2, line_id="a"), order_id="O2")
    ida.buy(line(kr(50), line_id="a"), order_id="O3")
    ida.now = datetime(2024, 4, 2, 9, tzinfo=UTC)
    ida.give_back("O1", refund_minor=kr(50), a=2)
    ida.give_back("O2", refund_minor=kr(25), a=1)
    assert ida.state is not None and ida.state.visits_by_month == {"2024-03": 2}

    ida.buy(line(kr(50)))
    assert ida.state.tier == "Member"
    ida.buy(line(kr(50)))
    assert ida.state.tier == "Silver" and ida.state.visits_by_month == {"2024-03": 2, "2024-04": 2}
    assert ida.tier_changes[-1].reason == "4 visits in the last 12 months reached Silver's 4 visits"
