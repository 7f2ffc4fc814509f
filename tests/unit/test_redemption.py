"""Spending points on the catalogue's rewards, refusals with reasons, and cancellations."""

from __future__ import annotations

from datetime import UTC, datetime

from builders import Member, club, kr, line

from processors.events import ClockTick, Redemption
from processors.outputs import LedgerReason, Trigger
from processors.program import CatalogueReward, Expiry
from processors.refusals import FINAL

DRINK = CatalogueReward(id="free_drink", name="A free drink", kind="free_product", points=50)


def regular(welcome: int = 120) -> Member:
    member = Member(club(welcome_bonus_points=welcome, rewards=(DRINK,)), "kim")
    member.enrol()
    return member


def test_a_redemption_spends_the_points_and_issues_the_reward() -> None:
    kim = regular()

    decision = kim.redeem("free_drink", "R1")

    assert decision.refusal is None and kim.balance == 70
    entry = kim.ledger[-1]
    assert (entry.reason, entry.points, entry.balance_after) == (LedgerReason.REDEMPTION, -50, 70)
    assert entry.detail == "Redeemed 50 points for A free drink (redemption R1)"
    assert kim.rewards[-1].reward == "free_drink" and kim.rewards[-1].points == -50


def test_too_few_points_an_unknown_reward_or_a_reused_id_are_refused_with_the_reason() -> None:
    kim = regular(welcome=60)
    kim.redeem("free_drink", "R1")

    too_few = kim.redeem("free_drink", "R2")
    unknown = kim.redeem("free_car", "R3")
    reused = kim.redeem("free_drink", "R1")

    assert too_few.refusal is not None and too_few.refusal.reason == (
        "A free drink needs 50 points; member kim has 10 points to spend" + FINAL)
    assert unknown.refusal is not None and "not in Club's catalogue (offered: free_drink)" in unknown.refusal.reason
    assert reused.refusal is not None and "already made" in reused.refusal.reason
    assert kim.balance == 10


def test_a_redemption_refused_for_too_few_points_and_sent_again_after_more_are_earned_changes_nothing() -> None:
    kim = regular(welcome=10)
    redemption = Redemption("redeem-R1", "kim", kim.later(), "app", "R1", "free_drink")
    refused = kim.apply(redemption)
    assert refused.refusal is not None and refused.refusal.final
    kim.buy(line(kr(1_000)))  # 100 points: enough now

    again = kim.apply(redemption)  # a feed sent again, say

    assert again.duplicate and again.outputs == ()
    assert kim.balance == 110 and "R1" not in kim.state.redemptions  # type: ignore[union-attr]
    assert kim.redeem("free_drink", "R1").refusal is None  # a new event, the same redemption: taken


def test_an_unknown_reward_is_judged_again_when_sent_again_once_the_program_offers_it() -> None:
    kim = regular(welcome=100)
    redemption = Redemption("redeem-R1", "kim", kim.later(), "app", "R1", "free_cake")
    unknown = kim.apply(redemption)
    assert unknown.refusal is not None and not unknown.refusal.final
    kim.program = club(welcome_bonus_points=100, rewards=(DRINK, DRINK.model_copy(update={"id": "free_cake"})))

    again = kim.apply(redemption)

    assert again.refusal is None and kim.balance == 50


def test_a_cancelled_redemption_gives_the_points_back_once() -> None:
    kim = regular()
    kim.redeem("free_drink", "R1")

    kim.cancel("R1")
    again = kim.cancel("R1")
    unknown = kim.cancel("R9")

    assert kim.balance == 120
    assert [(e.reason, e.points) for e in kim.ledger[-2:]] == [
        (LedgerReason.REDEMPTION, -50), (LedgerReason.REDEMPTION_CANCELLED, 50)]
    assert again.refusal is not None and "already cancelled" in again.refusal.reason
    assert unknown.refusal is not None and "no redemption R9" in unknown.refusal.reason


def expiring_at_month_end() -> Member:
    """Points expire at the end of the month they were earned in: 120 welcome points on 5 January 2025."""
    kim = Member(club(welcome_bonus_points=120, rewards=(DRINK,), expiry=Expiry(at="month_end")), "kim",
                 datetime(2025, 1, 5, 12, tzinfo=UTC))
    kim.enrol()
    return kim


def test_cancelled_points_go_back_to_the_lot_they_came_from_and_expire_with_it() -> None:
    kim = expiring_at_month_end()
    kim.now = datetime(2025, 1, 20, 12, tzinfo=UTC)
    kim.buy(line(kr(500)))  # 50 points, also expiring on 1 February
    kim.now = datetime(2025, 1, 30, 12, tzinfo=UTC)
    kim.redeem("free_drink", "R1")
    kim.cancel("R1")

    assert kim.state is not None and kim.state.lots == {"2025-02-01": 170}  # not a lot of its own, due in March


def test_points_given_back_after_their_last_day_expire_at_once() -> None:
    kim = expiring_at_month_end()
    kim.now = datetime(2025, 1, 31, 20, tzinfo=UTC)
    kim.redeem("free_drink", "R1")
    kim.now = datetime(2025, 2, 1, 0, 5, tzinfo=UTC)
    kim.apply(ClockTick("tick:kim:2025-02-01", "kim", kim.now, "scheduler"))  # the 70 left expire
    kim.now = datetime(2025, 2, 1, 12, tzinfo=UTC)

    cancelled = kim.cancel("R1")

    assert [(e.reason, e.points, e.balance_after) for e in kim.ledger[-2:]] == [
        (LedgerReason.REDEMPTION_CANCELLED, 50, 50), (LedgerReason.EXPIRY, -50, 0)]
    assert kim.ledger[-1].detail == "50 points expired at the end of 2025-01-31, their last day"
    assert kim.activity[-1].points == 0
    assert [o.kind for o in cancelled.outputs if isinstance(o, Trigger)] == ["points_expired"]  # nothing unlocked
