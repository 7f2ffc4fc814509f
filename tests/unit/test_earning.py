"""Earning points on purchases, as a member would have it explained."""

from __future__ import annotations

from builders import Member, club, kr, line, points_earned

from processors.earning import share_out
from processors.outputs import LedgerEntry, LedgerReason
from processors.program import EarnRate


def test_a_member_earns_1_point_per_10_kr(anna: Member) -> None:
    decision = anna.buy(line(kr(250)))

    assert points_earned(decision) == 25
    assert anna.balance == 100 + 25


def test_a_gold_member_buying_1000_kr_of_shoes_earns_150_points(anna: Member) -> None:
    anna.reach("Gold")
    before = anna.balance

    decision = anna.buy(line(kr(1_000), "shoes"))

    assert points_earned(decision) == 150
    assert anna.balance == before + 150
    entry = decision.outputs[0]
    assert isinstance(entry, LedgerEntry)
    assert entry.detail == "1,000.00 SEK at 1 point per 10.00 SEK, Gold x1.5 = 150 points"
    assert entry.entry_id == f"{entry.event_id}:purchase"
    assert entry.reason is LedgerReason.PURCHASE
    assert entry.balance_after == anna.balance


def test_points_are_rounded_down_once_per_order_not_per_line(anna: Member) -> None:
    # Three lines of 9.99 kr: per line each would round to 0; the order's 29.97 kr earns 2.
    decision = anna.buy(line(kr(9, 99)), line(kr(9, 99)), line(kr(9, 99)))

    assert points_earned(decision) == 2
    assert [item.points for item in anna.activity[-1].lines] == [1, 1, 0]
    assert decision.outputs[0].detail.endswith("= 2 points, rounded down")  # type: ignore[union-attr]


def test_an_order_below_the_earn_step_earns_nothing_and_leaves_no_ledger_entry(anna: Member) -> None:
    decision = anna.buy(line(kr(9, 99)))

    assert points_earned(decision) == 0
    assert not any(isinstance(o, LedgerEntry) for o in decision.outputs)
    assert anna.activity[-1].points == 0


def test_gift_cards_earn_no_points_and_do_not_count_towards_a_tier(anna: Member) -> None:
    decision = anna.buy(line(kr(500), "gift_card"), line(kr(100), "clothing"))

    assert points_earned(decision) == 10
    assert anna.state is not None and anna.state.spend_by_month == {"2024-03": kr(100)}
    assert decision.outputs[0].detail == (  # type: ignore[union-attr]
        "100.00 SEK at 1 point per 10.00 SEK, Member x1 = 10 points (gift_card earns no points)"
    )


def test_a_category_multiplier_applies_to_that_category_only() -> None:
    member = Member(club(category_multipliers_bp={"shoes": 20_000}))
    member.enrol()

    decision = member.buy(line(kr(100), "shoes"), line(kr(100), "clothing"))

    assert points_earned(decision) == 30
    assert [item.points for item in member.activity[-1].lines] == [20, 10]
    assert decision.outputs[0].detail == (  # type: ignore[union-attr]
        "200.00 SEK at 1 point per 10.00 SEK, Member x1, shoes x2 = 30 points"
    )


def test_the_tier_before_the_purchase_sets_its_rate(anna: Member) -> None:
    # 10,000 kr lifts Anna to Gold, but this purchase still earns at the Member rate.
    decision = anna.buy(line(kr(10_000)))

    assert points_earned(decision) == 1_000
    assert anna.state is not None and anna.state.tier == "Gold"
    assert points_earned(anna.buy(line(kr(100)))) == 15


def test_line_points_add_up_to_the_order_points(anna: Member) -> None:
    decision = anna.buy(line(kr(33, 33)), line(kr(33, 33)), line(kr(33, 34)))

    assert points_earned(decision) == 10
    assert sum(item.points for item in anna.activity[-1].lines) == 10


def test_leftover_points_go_to_the_largest_remainders_and_ties_to_the_earlier_line() -> None:
    # Exact shares 1.5, 1.5, 1.0 (divisor 10) make 4 points: one left over, two lines tie.
    assert share_out(4, [15, 15, 10], 10) == [2, 1, 1]
    # Exact shares 0.2, 0.9, 0.9 make 2 points: the two largest remainders get one each.
    assert share_out(2, [2, 9, 9], 10) == [0, 1, 1]


def test_a_purchase_is_recorded_so_that_its_lines_can_be_returned(anna: Member) -> None:
    anna.buy(
        line(kr(300), quantity=3, line_id="shirts"), line(kr(50), "gift_card", line_id="card"), order_id="o-1"
    )

    assert anna.state is not None
    order = anna.state.orders["o-1"]
    assert order.lines["shirts"].quantity == 3
    assert order.lines["shirts"].points == 30
    assert order.lines["card"].points == 0
    assert order.lines["card"].amount_minor == 0  # never counted as qualifying spend


def test_the_purchase_activity_carries_the_total_and_each_lines_points(anna: Member) -> None:
    anna.buy(
        line(kr(120), "shoes", quantity=2, line_id="l1"),
        line(kr(30), "gift_card", line_id="l2"),
        order_id="o-7",
    )

    activity = anna.activity[-1]
    assert (activity.event_type, activity.channel, activity.currency) == ("purchase", "pos", "SEK")
    assert (activity.amount_minor, activity.points, activity.order_id) == (kr(150), 12, "o-7")
    assert [(item.line_id, item.quantity, item.amount_minor, item.points) for item in activity.lines] == [
        ("l1", 2, kr(120), 12),
        ("l2", 1, kr(30), 0),
    ]


def test_a_purchase_in_another_currency_is_refused_naming_both(anna: Member) -> None:
    before = anna.state

    decision = anna.buy(line(kr(100)), currency="EUR")

    assert decision.refusal is not None
    assert "EUR" in decision.refusal.reason and "SEK" in decision.refusal.reason
    assert decision.state is before and decision.outputs == ()


def test_an_order_id_seen_before_under_another_event_is_refused(anna: Member) -> None:
    anna.buy(line(kr(100)), order_id="o-1")

    decision = anna.buy(line(kr(100)), order_id="o-1")

    assert decision.refusal is not None and "o-1" in decision.refusal.reason
    assert anna.balance == 110


def test_an_order_under_the_minimum_spend_earns_nothing_but_counts_towards_tiers() -> None:
    anna = Member(club(earn=EarnRate(points=1, per_amount_minor=kr(10), minimum_spend_minor=kr(50))))
    anna.enrol()

    small = anna.buy(line(kr(49, 99)))
    assert points_earned(small) == 0
    assert anna.state is not None and anna.state.spend_by_month == {"2024-03": kr(49, 99)}
    assert points_earned(anna.buy(line(kr(50)))) == 5


def test_excluded_skus_earn_nothing_and_sku_multipliers_beat_their_category() -> None:
    anna = Member(club(excluded_skus=frozenset({"DELIVERY"}), category_multipliers_bp={"shoes": 15_000},
                       sku_multipliers_bp={"SHOE-LIMITED": 30_000}))
    anna.enrol()

    decision = anna.buy(line(kr(100), "shoes", sku="SHOE-LIMITED"), line(kr(100), "shoes"),
                        line(kr(49), "service", sku="DELIVERY"))

    assert points_earned(decision) == 30 + 15
    assert [item.points for item in anna.activity[-1].lines] == [30, 15, 0]
    assert decision.outputs[0].detail == (  # type: ignore[union-attr]
        "200.00 SEK at 1 point per 10.00 SEK, Member x1, SHOE-LIMITED x3, shoes x1.5 = 45 points "
        "(DELIVERY earns no points)"
    )


def test_paying_with_a_named_method_multiplies_the_points_and_says_so() -> None:
    anna = Member(club(payment_multipliers_bp={"nordic_card": 20_000}))
    anna.enrol()

    assert points_earned(anna.buy(line(kr(100)), paid_with="swish")) == 10
    decision = anna.buy(line(kr(100)), paid_with="nordic_card")

    assert points_earned(decision) == 20
    assert "paid with nordic_card x2" in decision.outputs[0].detail  # type: ignore[union-attr]


def test_carried_remainders_add_up_to_the_points_of_the_money_spent() -> None:
    anna = Member(club(earn=EarnRate(points=1, per_amount_minor=kr(10), carry_remainder=True),
                       welcome_bonus_points=0))
    anna.enrol()

    earned = [points_earned(anna.buy(line(kr(15)))) for _ in range(4)]  # 1.5 points each

    assert earned == [1, 2, 1, 2]
    assert anna.balance == 6
    assert anna.ledger[1].detail.endswith("with what earlier orders left over")


def test_a_rounding_program_loses_the_same_parts_of_points() -> None:
    anna = Member(club(welcome_bonus_points=0))
    anna.enrol()

    assert [points_earned(anna.buy(line(kr(15)))) for _ in range(4)] == [1, 1, 1, 1]
