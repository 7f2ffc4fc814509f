"""Coalition partners: earning and spending at a partner, and the settlement ledger between them."""

from __future__ import annotations

from builders import Member, club, kr, line, points_earned

from processors.outputs import SettlementEntry
from processors.program import CatalogueReward, EarnRate, Partner

MUSEUM = Partner(id="museum", name="The Museum", earn=EarnRate(points=1, per_amount_minor=kr(20)),
                 point_value_minor=5)
TICKET = CatalogueReward(id="ticket", name="A museum ticket", kind="partner_voucher", partner="museum", points=30)


def guest() -> Member:
    member = Member(club(partners=(MUSEUM,), rewards=(TICKET,)), "gus")
    member.enrol()  # 100 welcome points
    return member


def test_a_purchase_at_a_partner_earns_at_its_rate_and_the_partner_owes_for_the_points() -> None:
    gus = guest()

    decision = gus.buy(line(kr(300)), at_partner="museum")

    assert points_earned(decision) == 15  # 1 per 20 kr, not the club's 1 per 10 kr
    assert decision.outputs[0].detail == (  # type: ignore[union-attr]
        "300.00 SEK at 1 point per 20.00 SEK at The Museum, Member x1 = 15 points")
    (entry,) = gus.settlements
    assert (entry.partner_id, entry.kind, entry.points, entry.amount_minor) == ("museum", "earn", 15, 75)
    assert entry.detail == "The Museum gave 15 points on order " + entry.detail.split("order ")[1]
    assert entry.detail.endswith("The Museum owes 0.75 SEK")


def test_a_return_at_a_partner_takes_its_share_off_the_settlement() -> None:
    gus = guest()
    gus.buy(line(kr(200), line_id="a"), line(kr(100), line_id="b"), order_id="M1", at_partner="museum")

    gus.give_back("M1", b=1)

    assert [(s.kind, s.points, s.amount_minor) for s in gus.settlements] == [("earn", 15, 75), ("return", -5, -25)]


def test_spending_points_on_a_partners_voucher_makes_the_program_owe_the_partner() -> None:
    gus = guest()

    gus.redeem("ticket", "R1")
    gus.cancel("R1")

    assert [(s.kind, s.points, s.amount_minor) for s in gus.settlements] == [
        ("burn", -30, -150), ("burn_cancelled", 30, 150)]
    assert gus.settlements[0].detail == "A museum ticket spent 30 points: The Museum is owed 1.50 SEK"
    assert gus.balance == 100


def test_an_unknown_partner_is_refused_with_the_known_ones() -> None:
    gus = guest()

    decision = gus.buy(line(kr(100)), at_partner="zoo")

    assert decision.refusal is not None
    assert decision.refusal.reason == "partner zoo is not a partner of Club (partners: museum)"


def test_points_paid_with_at_a_partner_are_a_burn_the_program_owes_the_partner_for() -> None:
    gus = guest()  # 100 welcome points

    decision = gus.buy(line(kr(300), line_id="a"), line(kr(100), line_id="b"), order_id="M1", at_partner="museum",
                       points_used=60)

    # 400 kr at 1 point per 20 kr earns 20 (the museum owes 20 x 5 öre = 1.00 kr); the 60 points paid with are
    # spent at the museum, so the program owes it 60 x 5 öre = 3.00 kr, as for its voucher.
    assert [(s.kind, s.points, s.amount_minor) for s in gus.settlements] == [("burn", -60, -300), ("earn", 20, 100)]
    assert len({s.settlement_id for s in decision.outputs if isinstance(s, SettlementEntry)}) == 2
    assert gus.settlements[0].detail == "60 points paid with on order M1: The Museum is owed 3.00 SEK"

    gus.give_back("M1", refund_minor=kr(100), b=1)  # a quarter of the order: 15 of the 60 points back, 5 earned
    gus.give_back("M1", refund_minor=kr(300), a=1)  # the rest: the other 45 back, and the other 15 earned

    assert [(s.kind, s.points, s.amount_minor) for s in gus.settlements[2:]] == [
        ("return", -5, -25), ("burn_cancelled", 15, 75), ("return", -15, -75), ("burn_cancelled", 45, 225)]
    assert sum(s.amount_minor for s in gus.settlements) == 0
    assert gus.balance == 100
