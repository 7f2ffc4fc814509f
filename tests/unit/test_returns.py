"""Returns give back exactly what the returned units earned."""

from __future__ import annotations

import copy
from datetime import timedelta

from builders import Member, club, kr, line, returned

from processors.decide import decide
from processors.events import Redemption
from processors.outputs import LedgerEntry, LedgerReason
from processors.program import CatalogueReward, EarnRate


def test_returning_part_of_a_line_reverses_its_share_of_the_points(anna: Member) -> None:
    anna.buy(line(kr(300), quantity=3, line_id="shirts"), order_id="o-1")  # 30 points

    decision = anna.give_back("o-1", shirts=1)

    entry = decision.outputs[0]
    assert isinstance(entry, LedgerEntry)
    assert (entry.reason, entry.points, entry.balance_after) == (LedgerReason.RETURN, -10, 120)
    assert entry.entry_id == f"{entry.event_id}:return"
    assert entry.detail == "Return from order o-1: 1 of 3 left on line shirts gives back 10 points"
    assert anna.balance == 120


def test_returning_an_order_in_parts_reverses_exactly_what_it_earned(anna: Member) -> None:
    anna.buy(line(kr(100), quantity=3, line_id="socks"), order_id="o-1")  # 10 points over 3 pairs

    reversed_points = [anna.give_back("o-1", socks=1).outputs[0].points for _ in range(3)]  # type: ignore[union-attr]

    assert reversed_points == [-3, -3, -4]
    assert anna.balance == 100
    assert anna.state is not None and anna.state.orders["o-1"].lines["socks"].quantity == 0


def test_a_return_takes_the_spend_off_the_month_it_was_bought_in(anna: Member) -> None:
    anna.buy(line(kr(1_000), quantity=2, line_id="boots"), order_id="o-1")
    anna.later(days=20)  # into the next month

    anna.give_back("o-1", boots=1)

    assert anna.state is not None and anna.state.spend_by_month == {"2024-03": kr(500)}


def test_the_return_activity_is_negative(anna: Member) -> None:
    anna.buy(line(kr(200), quantity=2, line_id="l1"), order_id="o-1")

    anna.give_back("o-1", l1=2)

    activity = anna.activity[-1]
    assert (activity.event_type, activity.points, activity.order_id) == ("return", -20, "o-1")
    assert [(item.line_id, item.quantity, item.points) for item in activity.lines] == [("l1", -2, -20)]


def test_returning_more_than_is_left_is_refused(anna: Member) -> None:
    anna.buy(line(kr(100), quantity=2, line_id="l1"), order_id="o-1")
    anna.give_back("o-1", l1=1)

    decision = anna.give_back("o-1", l1=2)

    assert decision.refusal is not None
    assert decision.refusal.reason == "line l1 of order o-1: 2 returned but only 1 left to return"
    assert anna.balance == 105


def test_a_line_not_in_the_order_is_refused(anna: Member) -> None:
    anna.buy(line(kr(100), line_id="l1"), order_id="o-1")

    decision = anna.give_back("o-1", l9=1)

    assert decision.refusal is not None and decision.refusal.reason == "line l9 is not in order o-1"


def test_an_unknown_order_is_refused(anna: Member) -> None:
    decision = anna.give_back("o-404", l1=1)

    assert decision.refusal is not None
    assert decision.refusal.reason == (
        "order o-404 not found for member anna (unknown, or older than the 30-day return window)"
    )


def test_an_order_past_the_return_window_cannot_be_returned(anna: Member) -> None:
    anna.buy(line(kr(100), line_id="l1"), order_id="o-1")
    anna.later(days=31)

    decision = anna.give_back("o-1", l1=1)

    assert decision.refusal is not None and "30-day return window" in decision.refusal.reason
    assert anna.balance == 110


def test_orders_past_the_return_window_and_the_margin_for_late_returns_are_forgotten(anna: Member) -> None:
    anna.buy(line(kr(100)), order_id="old")
    anna.later(days=36, hours=22)
    anna.buy(line(kr(100)), order_id="kept")  # 30 days and the program's 7 for late returns: still kept
    assert anna.state is not None and set(anna.state.orders) == {"old", "kept"}

    anna.buy(line(kr(100)), order_id="new")

    assert anna.state is not None and set(anna.state.orders) == {"kept", "new"}


def test_a_return_made_inside_the_window_is_taken_when_it_arrives_after_a_purchase_made_beyond_it(
    anna: Member,
) -> None:
    bought = anna.now
    anna.buy(line(kr(100), line_id="l1"), order_id="o-1")  # 10 points
    anna.later(days=33)
    anna.buy(line(kr(200), line_id="l1"), order_id="o-2")  # 20 points, sent by the till at once

    late = anna.apply(returned("anna", "o-1", {"l1": 1}, at=bought + timedelta(days=29)))  # the returns feed lags

    assert late.refusal is None and anna.balance == 100 + 20


def spender(policy: str) -> Member:
    """Kim bought for 1,000 kr (100 points, 200 with the welcome) and spent 150 of them."""
    kim = Member(club(return_after_spend=policy,
                      rewards=(CatalogueReward(id="gift", name="A gift", kind="discount", points=150),)), "kim")
    kim.enrol()
    kim.buy(line(kr(1_000), line_id="l1"), order_id="O1")
    kim.redeem("gift", "R1")
    return kim


def test_a_capped_program_takes_back_spent_points_only_down_to_zero_and_says_so() -> None:
    kim = spender("cap_at_zero")

    kim.give_back("O1", l1=1)

    entry = kim.ledger[-1]
    assert (entry.points, entry.balance_after) == (-50, 0)
    assert entry.detail.endswith("so 50 points taken back, down to 0 (50 points forgiven)")


def test_by_default_a_return_of_spent_points_takes_the_balance_below_zero() -> None:
    kim = spender("negative_balance")

    kim.give_back("O1", l1=1)

    assert (kim.ledger[-1].points, kim.balance) == (-100, -50)


MINIMUM_50_KR = club(earn=EarnRate(points=1, per_amount_minor=kr(10), minimum_spend_minor=kr(50)),
                     welcome_bonus_points=0)


def test_a_return_that_leaves_the_order_under_the_minimum_spend_takes_back_the_points_left_too() -> None:
    bea = Member(MINIMUM_50_KR, "bea")
    bea.enrol()
    bea.buy(line(kr(30), line_id="a"), line(kr(30), line_id="b"), order_id="O1")  # 60 kr: 6 points, 3 a line

    bea.give_back("O1", refund_minor=kr(30), a=1)  # 30 kr kept: under 50 kr, which earns nothing

    entry = bea.ledger[-1]
    assert (entry.reason, entry.points, entry.balance_after) == (LedgerReason.RETURN, -6, 0)
    assert entry.detail == ("Return from order O1: 1 of 1 left on line a gives back 3 points; "
                            "the 30.00 SEK kept is under the 50.00 SEK minimum for points, so the 3 points left "
                            "on the order go back too")
    assert [(item.line_id, item.quantity, item.points) for item in bea.activity[-1].lines] == [
        ("a", -1, -3), ("b", 0, -3)]
    assert bea.state is not None and bea.state.spend_by_month == {"2024-03": kr(30)}  # the kept line still counts
    bea.give_back("O1", refund_minor=kr(30), b=1)  # nothing more to take back
    assert bea.ledger[-1] is entry and bea.balance == 0


def test_a_return_that_keeps_the_minimum_spend_keeps_the_points_left() -> None:
    bea = Member(MINIMUM_50_KR, "bea")
    bea.enrol()
    bea.buy(line(kr(50), line_id="a"), line(kr(30), line_id="b"), order_id="O1")  # 80 kr: 8 points

    bea.give_back("O1", refund_minor=kr(30), b=1)  # 50 kr kept: the minimum

    assert (bea.ledger[-1].points, bea.balance) == (-3, 5)


def test_an_order_can_be_returned_until_just_before_the_window_ends_when_its_points_become_spendable() -> None:
    ada = Member(club(welcome_bonus_points=0, pending_days=30,
                      rewards=(CatalogueReward(id="gift", name="A gift", kind="discount", points=100),)), "ada")
    ada.enrol()
    bought_at = ada.now + timedelta(hours=1)
    ada.buy(line(kr(1_000), line_id="l1"), order_id="O1")  # 100 points, pending for 30 days

    ada.now = bought_at + timedelta(days=30) - timedelta(milliseconds=1)
    still_returnable = decide(copy.deepcopy(ada.state), returned("ada", "O1", {"l1": 1}, ada.now), ada.program,
                              ada.now)
    ada.now = bought_at + timedelta(days=30)  # the points can be spent: the order can no longer be returned
    spent = ada.apply(Redemption("redeem-1", "ada", ada.now, "app", "R1", "gift"))
    too_late = ada.apply(returned("ada", "O1", {"l1": 1}, ada.now))

    assert still_returnable.refusal is None
    assert spent.refusal is None
    assert too_late.refusal is not None and "30-day return window" in too_late.refusal.reason
    assert ada.balance == 0


CARRYING = club(earn=EarnRate(points=1, per_amount_minor=kr(10), carry_remainder=True), welcome_bonus_points=0)


def carrier() -> Member:
    """Cai, enrolled in a program that carries the parts of a point an order leaves over (no welcome bonus)."""
    cai = Member(CARRYING, "cai")
    cai.enrol()
    return cai


def test_a_return_takes_back_the_part_of_a_point_the_order_left_over() -> None:
    cai = carrier()
    cai.buy(line(kr(35), line_id="c1"), order_id="O1")  # 3.5 points: 3, and half a point carried

    cai.give_back("O1", refund_minor=kr(35), c1=1)  # 3 points back, and the half point goes with them
    cai.buy(line(kr(35), line_id="c2"), order_id="O2")  # 3.5 again: 3, half a point carried

    assert [e.points for e in cai.ledger] == [3, -3, 3]
    assert cai.ledger[1].detail == ("Return from order O1: 1 of 1 left on line c1 gives back 3 points; "
                                    "the 1/2 point order O1 left over for later orders goes with it")
    assert cai.state is not None and cai.state.carried * 2 == cai.state.carried_divisor


def test_a_return_of_an_order_whose_half_point_made_a_whole_one_since_takes_one_more_and_carries_the_rest() -> None:
    cai = carrier()
    cai.buy(line(kr(35), line_id="c1"), order_id="O1")  # 3.5 points: 3, half a point carried
    cai.buy(line(kr(15), line_id="c2"), order_id="O2")  # 1.5 and the half: 2 points, nothing carried

    cai.give_back("O1", refund_minor=kr(35), c1=1)  # its 3.5 go: 4 points back, half a point carried

    assert [e.points for e in cai.ledger[-2:]] == [-3, -1]
    assert cai.balance == 1  # 1.5 points for the 15 kr kept: 1, and half a point carried
    assert cai.ledger[-1].detail == ("Return from order O1: the 1/2 point order O1 left over for later orders goes "
                                     "with it, and made a whole point: 1 point taken back, 1/2 point carried")
    assert cai.ledger[-1].available_at is None  # a point of the later order's, spendable as its points are
    assert cai.state is not None and cai.state.carried * 2 == cai.state.carried_divisor


def test_a_return_of_an_order_that_used_an_earlier_half_point_gives_back_the_point_it_now_makes() -> None:
    cai = carrier()
    cai.buy(line(kr(35), line_id="a"), order_id="A")  # 3.5 points: 3, half a point carried
    cai.buy(line(kr(35), line_id="b"), order_id="B")  # 3.5 and the half: 4 points, nothing carried
    cai.buy(line(kr(5), line_id="c"), order_id="C")  # half a point: carried

    cai.give_back("B", refund_minor=kr(35), b=1)  # its 4 go, and A's half comes back: with C's, a whole point

    assert [e.points for e in cai.ledger] == [3, 4, -4, 1]
    assert cai.ledger[-1].detail == ("Return from order B: the 1/2 point order B took from what earlier orders left "
                                     "comes back, and makes a whole point: 1 point back, nothing carried")
    assert cai.balance == 4 and cai.state is not None and cai.state.carried == 0  # 35 + 5 kr kept: 4 points
