"""The holdout: a stable random share of members who get no campaign points and no offers, and nothing less."""

from __future__ import annotations

from datetime import UTC, datetime

from builders import Member, club, kr, line

from processors.events import ClockTick
from processors.explain import explain
from processors.holdout import held_out
from processors.outputs import LedgerReason
from processors.program import Campaign, CrossSell, WinBack

DOUBLE = Campaign(id="double", name="Double points", starts=datetime(2024, 1, 1, tzinfo=UTC),
                  ends=datetime(2025, 1, 1, tzinfo=UTC), multiplier_bp=20_000)
# CRC-32 of the id mod 10,000: eva 1,271 and dana 744 fall in a holdout of 1,500 bp, bo 2,851 and anna 6,263 do not.
PROGRAM = club(holdout_bp=1_500, campaigns=(DOUBLE,), cross_sell=(CrossSell(bought="bikes", suggest="helmets"),),
               win_back=WinBack(inactive_days=30))


def test_the_holdout_is_the_share_it_is_set_to_and_the_same_members_every_time() -> None:
    ids = [f"M{n:06d}" for n in range(20_000)]
    held = [member_id for member_id in ids if held_out(member_id, 500)]

    assert 900 <= len(held) <= 1_100  # 5 % of 20,000
    assert held == [member_id for member_id in ids if held_out(member_id, 500)]
    assert not any(held_out(member_id, 0) for member_id in ids)
    assert [held_out(name, 1_500) for name in ("eva", "dana", "bo", "anna")] == [True, True, False, False]


def test_a_member_in_the_holdout_gets_no_campaign_points_and_no_offers_but_earns_as_everyone_does() -> None:
    ledgers, offers = {}, {}
    for name in ("eva", "bo"):
        member = Member(PROGRAM, name)
        member.enrol()
        member.buy(line(kr(2_000), category="bikes"))  # 200 points; the campaign doubles them; a helmet idea
        member.apply(ClockTick(f"tick:{name}", name, member.later(days=40), "scheduler"))  # a win-back is due
        ledgers[name] = [(entry.reason, entry.points) for entry in member.ledger]
        offers[name] = sorted(trigger.kind for trigger in member.triggers if trigger.kind in {"cross_sell", "win_back"})

    assert ledgers["eva"] == [(LedgerReason.WELCOME, 100), (LedgerReason.PURCHASE, 200)]
    assert ledgers["bo"] == [*ledgers["eva"], (LedgerReason.CAMPAIGN, 200)]
    assert offers == {"eva": [], "bo": ["cross_sell", "win_back"]}


def test_the_members_are_told_that_some_of_them_get_no_offers() -> None:
    text = " ".join(explain(PROGRAM))

    assert "about 15.00 % of members, picked at random, get no campaign points and no offers" in text
    assert "picked at random" not in " ".join(explain(club(campaigns=(DOUBLE,))))
