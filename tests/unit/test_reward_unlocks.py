"""Telling a member when their points reach a reward: once per climb past its cost, from points they can spend."""

from __future__ import annotations

from datetime import timedelta

from builders import Member, club, kr, line

from processors.events import ClockTick
from processors.outputs import Trigger
from processors.program import CatalogueReward

DRINK = CatalogueReward(id="free_drink", name="A free drink", kind="free_product", points=50)
BAG = CatalogueReward(id="tote_bag", name="A tote bag", kind="free_product", points=120)


def unlocked(member: Member) -> list[tuple[str, str, str]]:
    return [(t.attributes["reward"], t.attributes["spendable"], t.message) for t in member.triggers
            if t.kind == "reward_unlocked"]


def test_a_member_hears_once_that_their_points_buy_a_drink_and_again_after_spending_them() -> None:
    kim = Member(club(welcome_bonus_points=10, rewards=(DRINK, BAG)), "kim")
    kim.enrol()
    kim.buy(line(kr(300)))  # 10 + 30 = 40 points: not yet
    assert unlocked(kim) == []

    kim.buy(line(kr(100)))  # 50 points
    kim.buy(line(kr(100)))  # 60: nothing new
    assert unlocked(kim) == [("free_drink", "50", "You have 50 points to spend: enough for A free drink (50 points).")]
    trigger = kim.triggers[-1]
    assert trigger.trigger_id.endswith(":reward_unlocked:free_drink") and trigger.attributes["points"] == "50"

    kim.redeem("free_drink", "R1")  # 10 left
    kim.buy(line(kr(400)))  # 50 again
    assert [reward for reward, _, _ in unlocked(kim)] == ["free_drink", "free_drink"]


def test_one_purchase_that_reaches_two_rewards_tells_of_both() -> None:
    kim = Member(club(welcome_bonus_points=10, rewards=(DRINK, BAG)), "kim")
    kim.enrol()

    kim.buy(line(kr(1_500)))  # 160 points

    assert [(reward, spendable) for reward, spendable, _ in unlocked(kim)] == [("free_drink", "160"),
                                                                              ("tote_bag", "160")]


def test_pending_points_unlock_a_reward_once_they_can_be_spent_which_the_daily_tick_notices() -> None:
    kim = Member(club(welcome_bonus_points=10, rewards=(DRINK,), pending_days=14), "kim")
    kim.enrol()
    bought = kim.buy(line(kr(500)))  # 60 points, 50 of them pending for 14 days
    assert kim.balance == 60 and unlocked(kim) == []
    day = bought.outputs[0].occurred_at

    for days in (13, 14):  # a tick before the points can be spent, then on the day they can
        when = day + timedelta(days=days)
        kim.apply(ClockTick(f"tick:kim:{when.date()}", "kim", when, "scheduler"))
        assert len(unlocked(kim)) == days - 13

    assert isinstance(kim.triggers[-1], Trigger) and kim.triggers[-1].attributes["spendable"] == "60"


def test_a_program_without_a_catalogue_tells_of_nothing() -> None:
    kim = Member(club(), "kim")
    kim.enrol()
    kim.buy(line(kr(10_000)))

    assert unlocked(kim) == [] and kim.state is not None and kim.state.unlocked_points == 0
