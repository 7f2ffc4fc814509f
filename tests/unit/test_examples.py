"""The example programs load and do what their comments promise, event by event."""

from __future__ import annotations

from pathlib import Path

from builders import Member, kr, line, points_earned

from streams.program_file import load_program

EXAMPLES = Path(__file__).parents[2] / "examples"


def member_of(example: str) -> Member:
    member = Member(load_program(EXAMPLES / f"{example}.yaml"), "member-1")
    member.enrol()
    return member


def test_every_example_loads_and_the_demo_runs_the_fashion_one() -> None:
    assert sorted(path.stem for path in EXAMPLES.glob("*.yaml")) == ["cafe", "coalition", "fashion"]
    assert load_program(None) == load_program(EXAMPLES / "fashion.yaml")


def test_cafe_coffees_earn_half_points_that_add_up_and_the_tenth_fills_the_card() -> None:
    regular = member_of("cafe")

    for _ in range(10):
        regular.buy(line(kr(35), "coffee"))

    assert [e.points for e in regular.ledger if e.reason == "purchase"] == [3, 4] * 5  # 3.5 a cup, halves carried
    assert regular.balance == 10 + 35 + 20  # and the badge for three visits in a week
    assert [r.reward for r in regular.rewards if r.reward != "welcome_bonus"] == ["regular", "free_coffee"]
    assert regular.state is not None and regular.state.stamps == {"coffee": 0}


def test_fashion_gold_perks_store_card_and_social_points() -> None:
    shopper = member_of("fashion")

    assert points_earned(shopper.buy(line(kr(40)))) == 0  # under the 50 SEK minimum
    shopper.buy(line(kr(5_000), "dresses"))  # reaches Gold
    (tier_up,) = [t for t in shopper.triggers if t.kind == "tier_up"]
    assert tier_up.attributes["perks"] == "free_shipping,early_sale_access"

    assert points_earned(shopper.buy(line(kr(1_000), "shoes"), paid_with="nordic_style_card")) == 375  # x1.5 x1.25 x2
    shopper.share("look-1")
    shopper.share("look-1", action="tag")
    assert [e.points for e in shopper.ledger if e.reason == "social"] == [20]


def test_coalition_guests_earn_at_the_museum_and_spend_there_with_a_settlement_each_way() -> None:
    guest = member_of("coalition")

    guest.buy(line(kr(2_400), "room"))  # 240 at the hotel
    assert points_earned(guest.buy(line(kr(300), "exhibition"), at_partner="moderna")) == 15
    guest.redeem("museum_ticket", "T1")

    assert guest.balance == 200 + 240 + 15 - 300
    assert [(s.partner_id, s.kind, s.amount_minor) for s in guest.settlements] == [
        ("moderna", "earn", 75), ("moderna", "burn", -1500)]
