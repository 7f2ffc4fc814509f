"""Point states: pending until the return window closes, spent oldest first, expired by age, paid and refunded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from builders import Member, club, kr, line, purchase, returned
from pydantic import ValidationError

from processors.events import ClockTick
from processors.outputs import LedgerEntry, LedgerReason
from processors.program import CatalogueReward, Expiry
from processors.refusals import FINAL

CATALOGUE = (CatalogueReward(id="bag", name="A tote bag", kind="free_product", points=120),)


def tick(someone: Member, day: datetime) -> None:
    someone.now = day
    someone.apply(ClockTick(f"tick:{someone.member_id}:{day.date()}", someone.member_id, day, "scheduler"))


def test_purchase_points_can_be_spent_only_when_the_pending_days_are_over() -> None:
    ada = Member(club(pending_days=14, rewards=CATALOGUE), "ada")
    ada.enrol()  # 100 welcome points, spendable at once
    bought = ada.buy(line(kr(500)))  # 50 points, pending for 14 days

    too_early = ada.redeem("bag", "R1")
    ada.later(days=14)
    in_time = ada.redeem("bag", "R2")

    entry = next(o for o in bought.outputs if getattr(o, "reason", None) is LedgerReason.PURCHASE)
    assert entry.available_at == entry.occurred_at + timedelta(days=14)  # type: ignore[union-attr]
    assert too_early.refusal is not None
    assert too_early.refusal.reason == "A tote bag needs 120 points; member ada has 100 points to spend" + FINAL
    assert in_time.refusal is None and ada.balance == 30


def test_a_return_of_a_pending_order_leaves_the_other_points_spendable() -> None:
    ada = Member(club(pending_days=14, rewards=CATALOGUE), "ada")
    ada.enrol()
    ada.buy(line(kr(300), line_id="a"), order_id="O1")  # 30 pending
    ada.buy(line(kr(300), line_id="b"), order_id="O2")  # 30 pending
    ada.give_back("O1", a=1)
    ada.later(days=14)

    assert ada.balance == 130 and ada.redeem("bag", "R1").refusal is None


def test_points_expire_by_age_oldest_first_with_a_warning_once() -> None:
    ada = Member(club(expiry=Expiry(after_days=365, warn_days=14), rewards=CATALOGUE), "ada",
                 datetime(2024, 1, 1, 9, tzinfo=UTC))
    ada.enrol()  # 100 points earned 2024-01-01: 365 days later, they expire at the end of 2024-12-31
    ada.now = datetime(2024, 6, 1, 9, tzinfo=UTC)
    ada.buy(line(kr(800)))  # 80 points earned 2024-06-01
    ada.redeem("bag", "R1")  # 120 spent: the 100 oldest, then 20 of June's

    tick(ada, datetime(2024, 12, 20, 6, tzinfo=UTC))  # the January points are spent: nothing to warn about
    tick(ada, datetime(2025, 5, 20, 6, tzinfo=UTC))  # June's 60 expire within 14 days: warned
    tick(ada, datetime(2025, 5, 21, 6, tzinfo=UTC))  # warned once
    tick(ada, datetime(2025, 6, 2, 6, tzinfo=UTC))  # 2024-06-01 + 365 days = 2025-06-01 was the last day

    assert [(t.kind, t.attributes["points"]) for t in ada.triggers if t.kind.startswith("points_")] == [
        ("points_expiring", "60"), ("points_expired", "60")]
    entry = ada.ledger[-1]
    assert (entry.reason, entry.points, entry.balance_after) == (LedgerReason.EXPIRY, -60, 0)
    assert entry.detail == "60 points expired at the end of 2025-06-01, their last day"
    assert ada.state is not None and ada.state.lots == {}


def test_points_earned_in_a_year_expire_at_the_end_of_the_next_year() -> None:
    ada = Member(club(expiry=Expiry(at="year_end", periods_later=1)), "ada", datetime(2024, 3, 1, 9, tzinfo=UTC))
    ada.enrol()  # 100 points of 2024
    ada.now = datetime(2025, 2, 1, 9, tzinfo=UTC)
    ada.buy(line(kr(500)))  # 50 points of 2025

    tick(ada, datetime(2025, 12, 31, 6, tzinfo=UTC))
    assert ada.balance == 150
    tick(ada, datetime(2026, 1, 1, 6, tzinfo=UTC))

    assert ada.balance == 50 and ada.ledger[-1].points == -100
    assert ada.state is not None and ada.state.lots == {"2027-01-01": 50}


def test_a_return_takes_its_points_from_the_orders_own_lot() -> None:
    ada = Member(club(expiry=Expiry(at="month_end")), "ada", datetime(2024, 3, 31, 9, tzinfo=UTC))
    ada.enrol()  # 100 points of March
    ada.now = datetime(2024, 4, 2, 9, tzinfo=UTC)
    ada.buy(line(kr(400), line_id="a"), order_id="O1")  # 40 points of April

    ada.give_back("O1", a=1)

    assert ada.state is not None and ada.state.lots == {"2024-04-01": 100}


def test_an_order_paid_partly_with_points_gets_them_back_in_proportion_to_the_refund() -> None:
    ada = Member(club(), "ada")
    ada.enrol()  # 100 points
    ada.buy(line(kr(300), line_id="a"), line(kr(100), line_id="b"), order_id="O1", points_used=80)  # +40 earned

    ada.give_back("O1", refund_minor=kr(100), b=1)  # a quarter of the order: 20 back, 10 earned taken back
    ada.give_back("O1", refund_minor=kr(300), a=1)  # the rest: 60 back, 30 taken back

    assert [(e.reason.value, e.points) for e in ada.ledger] == [
        ("welcome", 100), ("points_payment", -80), ("purchase", 40),
        ("points_refund", 20), ("return", -10), ("points_refund", 60), ("return", -30)]
    assert [e.seq for e in ada.ledger] == [0, 0, 1, 0, 1, 0, 1]  # one event's entries in the order applied
    assert ada.balance == 100
    assert ada.ledger[3].detail == "Order O1 was paid partly with points: 20 points back with the refund of 100.00 SEK"


def test_points_paid_with_come_back_on_a_refund_as_they_were_expiring_on_their_own_day() -> None:
    ada = Member(club(expiry=Expiry(at="month_end")), "ada", datetime(2025, 1, 20, 12, tzinfo=UTC))
    ada.enrol()  # 100 welcome points, their last day 31 January
    ada.buy(line(kr(300), line_id="a"), line(kr(100), line_id="b"), order_id="O1", points_used=80)  # +40
    ada.give_back("O1", refund_minor=kr(100), b=1)  # 20 back, 10 taken
    assert ada.state is not None and ada.state.lots == {"2025-02-01": 70}

    ada.now = datetime(2025, 2, 5, 12, tzinfo=UTC)  # January's points are due (not ticked yet)
    ada.give_back("O1", refund_minor=kr(300), a=1)  # the other 60 back: January's points, not new ones

    assert [(e.reason.value, e.points, e.balance_after) for e in ada.ledger[-3:]] == [
        ("points_refund", 60, 130), ("return", -30, 100), ("expiry", -100, 0)]
    assert ada.state.lots == {} and ada.activity[-1].points == 60 - 30 - 100


def test_an_order_cannot_be_paid_with_points_the_member_does_not_have() -> None:
    ada = Member(club(), "ada")
    ada.enrol()

    refused = ada.buy(line(kr(300)), points_used=101)

    assert refused.refusal is not None
    assert refused.refusal.reason.endswith("pays with 101 points; member ada has 100 points to spend" + FINAL)
    assert ada.balance == 100


def test_a_return_after_the_orders_points_expired_takes_nothing_back_and_says_why() -> None:
    ada = Member(club(expiry=Expiry(at="month_end")), "ada", datetime(2025, 1, 10, 9, tzinfo=UTC))
    ada.enrol()  # 100 welcome points of January
    ada.now = datetime(2025, 1, 31, 9, tzinfo=UTC)
    ada.buy(line(kr(1_000), line_id="a"), order_id="O1")  # 100 points of January
    tick(ada, datetime(2025, 2, 1, 0, 5, tzinfo=UTC))  # all 200 expire at the end of January
    ada.now = datetime(2025, 2, 2, 9, tzinfo=UTC)
    ada.buy(line(kr(500), line_id="b"), order_id="O2")  # 50 points of February

    ada.give_back("O1", a=1)  # inside the 30-day window, but its 100 points are gone already

    entry = ada.ledger[-1]
    assert (entry.reason, entry.points, entry.balance_after) == (LedgerReason.RETURN, 0, 50)
    assert entry.detail == ("Return from order O1: 1 of 1 left on line a gives back 100 points; "
                            "100 points of them had expired already, so not taken back")
    assert ada.balance == 50 and ada.state is not None and ada.state.lots == {"2025-03-01": 50}


def test_of_an_order_whose_lot_was_partly_spent_a_return_takes_back_only_the_spent_points() -> None:
    ada = Member(club(expiry=Expiry(at="month_end"), rewards=CATALOGUE), "ada", datetime(2025, 1, 10, 9, tzinfo=UTC))
    ada.enrol()  # 100 welcome points of January
    ada.now = datetime(2025, 1, 31, 9, tzinfo=UTC)
    ada.buy(line(kr(1_000), line_id="a"), order_id="O1")  # 100 points of January: 200 in the lot
    ada.redeem("bag", "R1")  # 120 spent, 80 left: the order's 100 held at most 80 of them
    tick(ada, datetime(2025, 2, 1, 0, 5, tzinfo=UTC))  # 80 expire, counted as the order's

    ada.give_back("O1", a=1)  # of its 100 points, 80 expired and 20 were spent: those 20 are taken back

    assert [(e.reason, e.points, e.balance_after) for e in ada.ledger[-2:]] == [
        (LedgerReason.EXPIRY, -80, 0), (LedgerReason.RETURN, -20, -20)]
    assert ada.ledger[-1].detail.endswith("80 points of them had expired already, so not taken back")


def test_a_return_after_the_points_expired_for_inactivity_takes_nothing_back() -> None:
    bo = Member(club(expiry=Expiry(inactive_months=1), return_window_days=60), "bo",
                datetime(2025, 1, 1, 9, tzinfo=UTC))
    bo.enrol()  # 100 welcome points
    bo.now = datetime(2025, 1, 2, 9, tzinfo=UTC)
    bo.buy(line(kr(600), line_id="a", quantity=2), order_id="O1")  # 60 points
    tick(bo, datetime(2025, 2, 2, 12, tzinfo=UTC))  # a month without activity: all 160 expire

    first = bo.give_back("O1", a=1)
    second = bo.give_back("O1", a=1)

    assert [e.points for d in (first, second) for e in d.outputs if isinstance(e, LedgerEntry)] == [0, 0]
    assert bo.balance == 0 and sum(e.points for e in bo.ledger) == 0


def test_a_purchase_refused_as_a_second_record_of_an_order_earns_nothing_when_sent_again_later() -> None:
    """The till sends anna's order O-1 twice, under two event ids: the second is refused for good ("already
    recorded"). Weeks later, when O-1 is no longer kept, the same refused event sent again (`loyalty deadletters
    --resend`, say) is a duplicate: O-1 does not earn its points twice."""
    anna = Member(club(), "anna")
    anna.enrol()
    bought = anna.now + timedelta(hours=1)
    first = purchase("anna", line(kr(1_000), line_id="1"), at=bought, order_id="O-1", event_id="till-1")
    again = purchase("anna", line(kr(1_000), line_id="1"), at=bought, order_id="O-1", event_id="till-1-resent")
    anna.apply(first)
    refused = anna.apply(again)
    assert refused.refusal is not None and "already recorded" in refused.refusal.reason
    balance = anna.balance  # 100 welcome + 100 for O-1

    anna.later(days=40)
    anna.buy(line(kr(100)))  # O-1 is forgotten now (30 + 7 days)
    balance += 10

    resent = anna.apply(again)  # deadletters --resend: the same bytes, the same event id

    assert resent.outputs == () and anna.balance == balance


def test_a_late_refund_of_points_whose_day_has_passed_expires_them_at_once() -> None:
    """Points expire 9 days after the day they were earned. Anna pays order O with her 100 welcome points (they
    expire on 12 March). The tick on 13 March expires what is left (O's own 100 points). A refund of O, made on
    4 March but reaching the engine after that tick, gives the 100 paid points back to the 12 March lot, whose
    day the tick has passed: they expire at once, as the tick would have expired them had the refund come in
    time (balance 0)."""
    anna = Member(club(expiry=Expiry(after_days=9)), "anna")
    anna.now = datetime(2026, 3, 2, 9, tzinfo=UTC)
    anna.enrol()
    anna.now = datetime(2026, 3, 3, 9, tzinfo=UTC)
    assert anna.apply(purchase("anna", line(kr(1_000), line_id="1"), at=anna.now, order_id="O",
                               points_used=100)).refusal is None
    anna.now = datetime(2026, 3, 13, 6, tzinfo=UTC)
    anna.apply(ClockTick("tick:anna:2026-03-13", "anna", anna.now, "scheduler"))
    assert anna.balance == 0

    late = anna.apply(returned("anna", "O", {"1": 1}, at=datetime(2026, 3, 4, 9, tzinfo=UTC), refund_minor=kr(1_000)))

    assert late.refusal is None
    assert anna.balance == 0 and anna.state is not None and anna.state.lots == {}


def test_a_program_whose_points_could_expire_while_still_pending_is_refused() -> None:
    with pytest.raises(ValidationError, match="expiry: some points would expire while still pending "
                                              "\\(pending_days: 14\\), never to be spent: raise periods_later"):
        club(expiry=Expiry(at="month_end"), pending_days=14)
    with pytest.raises(ValidationError, match="make after_days more than 14"):
        club(expiry=Expiry(after_days=14), pending_days=14)
    club(expiry=Expiry(at="month_end", periods_later=1), pending_days=14)  # at least 28 days: fine
