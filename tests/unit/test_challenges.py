"""Challenges: three visits in a week earn a badge and bonus points, once."""

from __future__ import annotations

from builders import Member, club, kr, line

from processors.outputs import LedgerReason
from processors.program import Challenge

WEEK = Challenge(id="three_in_a_week", name="Three visits in a week", visits=3, within_days=7, badge="regular",
                 bonus_points=30)


def player() -> Member:
    member = Member(club(welcome_bonus_points=0, challenges=(WEEK,)), "pia")
    member.enrol()
    return member


def test_the_third_visit_within_a_week_earns_the_badge_bonus_and_trigger_once() -> None:
    pia = player()

    for _ in range(2):
        pia.buy(line(kr(50)))
        pia.later(days=2)
    assert pia.rewards == []
    pia.buy(line(kr(50)))
    pia.buy(line(kr(50)))  # a fourth changes nothing: the badge is earned once

    (badge,) = pia.rewards
    assert (badge.reward, badge.points) == ("regular", 30)
    assert [(e.reason, e.points) for e in pia.ledger][-2:] == [(LedgerReason.CHALLENGE, 30), (LedgerReason.PURCHASE, 5)]
    assert [t.kind for t in pia.triggers] == ["badge_earned"]
    assert pia.balance == 4 * 5 + 30


def test_visits_spread_over_more_than_the_window_do_not_count() -> None:
    pia = player()

    for _ in range(3):
        pia.buy(line(kr(50)))
        pia.later(days=4)

    assert pia.rewards == [] and pia.state is not None and len(pia.state.visits) == 2


def test_a_purchase_of_only_a_gift_card_is_no_visit() -> None:
    pia = player()

    pia.buy(line(kr(50)))
    pia.buy(line(kr(500), "gift_card"))  # earns nothing, qualifies for nothing
    pia.buy(line(kr(500), "gift_card"))

    assert pia.rewards == [] and pia.state is not None and len(pia.state.visits) == 1
