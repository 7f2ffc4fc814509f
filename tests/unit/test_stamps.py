"""Stamp cards, as a café's regulars would collect them."""

from __future__ import annotations

from builders import Member, club, kr, line

from processors.program import StampCard


def cafe_member(*cards: StampCard) -> Member:
    member = Member(club(stamp_cards=cards, welcome_bonus_points=0), "kim")
    member.enrol()
    return member


def test_the_tenth_coffee_fills_the_card_gives_the_reward_and_starts_a_new_card() -> None:
    kim = cafe_member(StampCard(name="coffee", stamps=10, per="item", categories=frozenset({"coffee"}),
                                reward="free_coffee"))

    for _ in range(9):
        kim.buy(line(kr(35), "coffee"))
    assert kim.rewards == [] and kim.state is not None and kim.state.stamps == {"coffee": 9}

    tenth = kim.buy(line(kr(35), "coffee"), line(kr(30), "pastry"))

    (reward,) = kim.rewards
    assert reward.reward == "free_coffee" and reward.points == 0
    assert reward.reward_id == f"{tenth.outputs[0].event_id}:stamps:coffee"  # type: ignore[union-attr]
    assert [t.kind for t in kim.triggers][-1] == "stamp_card_complete"
    assert kim.state.stamps == {"coffee": 0}


def test_the_free_coffee_itself_earns_no_stamp_on_either_kind_of_card() -> None:
    kim = cafe_member(StampCard(name="coffee", stamps=10, per="item", categories=frozenset({"coffee"}),
                                reward="free_coffee"),
                      StampCard(name="visits", stamps=3, reward="free_pastry"))
    kim.buy(line(kr(350), "coffee", quantity=10))  # ten paid coffees fill the coffee card; one visit stamp

    kim.buy(line(0, "coffee"))  # the free coffee, rung up at 0.00 kr: not paid for, so no stamp
    kim.buy(line(0, "coffee"), line(kr(30), "pastry"))  # a paid pastry is a visit; the free coffee still no item

    assert kim.state is not None and kim.state.stamps == {"coffee": 0, "visits": 2}


def test_items_stamp_per_unit_and_a_big_order_can_fill_two_cards() -> None:
    kim = cafe_member(StampCard(name="coffee", stamps=10, per="item", reward="free_coffee"))

    kim.buy(line(kr(700), "coffee", quantity=23))

    assert [r.reward_id.rsplit(":", 1)[-1] for r in kim.rewards] == ["coffee", "2"]
    assert kim.state is not None and kim.state.stamps == {"coffee": 3}


def test_a_purchase_card_stamps_once_per_order_and_only_for_its_categories() -> None:
    kim = cafe_member(StampCard(name="lunch", stamps=5, per="purchase", categories=frozenset({"lunch"}),
                                reward="free_lunch"))

    kim.buy(line(kr(100), "lunch", quantity=3), line(kr(20), "coffee"))
    kim.buy(line(kr(20), "coffee"))

    assert kim.state is not None and kim.state.stamps == {"lunch": 1}


def test_several_cards_run_at_once() -> None:
    kim = cafe_member(StampCard(name="coffee", stamps=2, per="item", categories=frozenset({"coffee"}),
                                reward="free_coffee"),
                      StampCard(name="visits", stamps=3, reward="free_pastry"))

    for _ in range(3):
        kim.buy(line(kr(35), "coffee"))

    assert sorted(r.reward for r in kim.rewards) == ["free_coffee", "free_pastry"]
    assert kim.state is not None and kim.state.stamps == {"coffee": 1, "visits": 0}
