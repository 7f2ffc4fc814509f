"""Win-back, repeat-favourite and cross-sell triggers, as a shop's regulars would set them off."""

from __future__ import annotations

from datetime import datetime

import pytest
from builders import Member, club, kr, line, purchase
from pydantic import ValidationError

from processors.events import ClockTick
from processors.outputs import Trigger
from processors.program import CrossSell, RepeatFavourites, WinBack
from streams.state_codec import decode_state, encode_state


def tick(someone: Member, day: datetime) -> list[Trigger]:
    before = len(someone.triggers)
    someone.apply(ClockTick(f"tick:{someone.member_id}:{day.date()}", someone.member_id, day, "scheduler"))
    return someone.triggers[before:]


def kinds(triggers: list[Trigger]) -> list[str]:
    return [t.kind for t in triggers]


def test_a_member_quiet_for_the_inactive_days_is_nudged_back_once_until_the_next_purchase() -> None:
    bo = Member(club(win_back=WinBack(inactive_days=60)), "bo")
    bo.enrol()
    assert tick(bo, bo.later(days=100)) == []  # never bought: nothing to win back

    bo.buy(line(kr(400)))
    bought = bo.now
    assert tick(bo, bo.later(days=59)) == []

    (nudge,) = tick(bo, bo.later(days=1))
    assert (nudge.kind, nudge.trigger_id) == ("win_back", f"tick:bo:{bo.now.date()}:win_back")
    assert nudge.attributes == {"days": "60", "last_purchase_at": bought.isoformat()}
    assert nudge.message == "We miss you! Your last visit was 60 days ago."
    assert tick(bo, bo.later(days=30)) == []  # once a spell

    bo.buy(line(kr(200)))
    assert tick(bo, bo.later(days=59)) == []
    assert kinds(tick(bo, bo.later(days=1))) == ["win_back"]  # a new spell, a new nudge


def test_a_late_old_purchase_does_not_end_the_spell() -> None:
    cy = Member(club(win_back=WinBack(inactive_days=30)), "cy")
    cy.enrol()
    cy.buy(line(kr(400)))
    assert kinds(tick(cy, cy.later(days=40))) == ["win_back"]

    cy.apply(purchase("cy", line(kr(100)), at=cy.now.replace(year=cy.now.year - 1)))  # a last-year till upload

    assert tick(cy, cy.later(days=1)) == []  # still the same spell: already nudged


def test_the_nth_order_with_the_same_beans_is_a_repeat_favourite_once() -> None:
    program = club(repeat_favourites=RepeatFavourites(orders=3, categories=frozenset({"coffee_beans"})))
    dee = Member(program, "dee")
    dee.enrol()

    for _ in range(2):
        dee.buy(line(kr(120), "coffee_beans", sku="BLEND-7"), line(kr(35), "coffee", sku="LATTE"))
    dee.buy(line(kr(120), "coffee_beans", sku="BLEND-9"))
    assert kinds(dee.triggers) == ["welcome"]

    third = dee.buy(line(kr(120), "coffee_beans", sku="BLEND-7", quantity=2), line(kr(35), "coffee", sku="LATTE"))

    (favourite,) = [o for o in third.outputs if isinstance(o, Trigger)]
    assert favourite.kind == "repeat_favourite"
    assert favourite.attributes == {"sku": "BLEND-7", "category": "coffee_beans", "orders": "3"}
    assert favourite.trigger_id.endswith(":repeat_favourite:BLEND-7")
    assert dee.state is not None and dee.state.favourite_orders == {"BLEND-7": 3, "BLEND-9": 1}  # lattes not watched

    dee.buy(line(kr(120), "coffee_beans", sku="BLEND-7"))
    assert kinds(dee.triggers).count("repeat_favourite") == 1


def test_a_bike_without_a_helmet_suggests_a_helmet_once_and_a_bike_with_one_suggests_nothing() -> None:
    program = club(cross_sell=(CrossSell(bought="bikes", suggest="helmets"),
                               CrossSell(bought="bikes", suggest="locks")))
    eve = Member(program, "eve")
    eve.enrol()
    eve.buy(line(kr(90), "locks"))

    first = eve.buy(line(kr(5_000), "bikes"))

    (suggestion,) = [o for o in first.outputs if isinstance(o, Trigger) and o.kind == "cross_sell"]
    assert suggestion.attributes == {"bought": "bikes", "suggest": "helmets"}  # she has a lock
    assert suggestion.message == "Your new bikes would go well with helmets."
    eve.buy(line(kr(5_000), "bikes"))
    assert kinds(eve.triggers).count("cross_sell") == 1

    fay = Member(program, "fay")
    fay.enrol()
    fay.buy(line(kr(5_000), "bikes"), line(kr(600), "helmets"), line(kr(90), "locks"))
    assert "cross_sell" not in kinds(fay.triggers)
    assert fay.state is not None and fay.state.categories_bought == ["bikes", "helmets", "locks"]


def test_what_the_nudges_remember_survives_the_worker_storage() -> None:
    program = club(win_back=WinBack(inactive_days=30), cross_sell=(CrossSell(bought="bikes", suggest="helmets"),),
                   repeat_favourites=RepeatFavourites(orders=2, categories=frozenset({"bikes"})))
    gus = Member(program, "gus")
    gus.enrol()
    gus.buy(line(kr(5_000), "bikes", sku="BIKE-1"))
    tick(gus, gus.later(days=31))
    assert gus.state is not None

    assert decode_state(encode_state(gus.state)) == gus.state
    assert (gus.state.win_back_sent, gus.state.cross_sold, gus.state.favourite_orders) == (
        True, ["bikes>helmets"], {"BIKE-1": 1})


def test_the_member_is_told_when_the_program_may_send_an_offer() -> None:
    from processors.explain import explain

    program = club(win_back=WinBack(inactive_days=90), cross_sell=(CrossSell(bought="bikes", suggest="helmets"),),
                   repeat_favourites=RepeatFavourites(orders=3, categories=frozenset({"tea", "coffee_beans"})))

    assert "We may send you an offer when you have not shopped for 90 days, when you order the same coffee_beans " \
           "or tea for the 3rd time and with helmets ideas when you buy bikes, once each." in explain(program)
    assert not any("offer" in paragraph for paragraph in explain(club()))


def test_a_cross_sell_must_suggest_another_category() -> None:
    with pytest.raises(ValidationError, match="suggest: bikes is the category bought; suggest another one"):
        CrossSell(bought="bikes", suggest="bikes")
