"""A redelivered event changes nothing, however old the event itself is."""

from __future__ import annotations

from datetime import datetime, timedelta

from builders import Member, club, enrolled, kr, line, purchase, returned

from processors.dedup import PRUNE_FROM
from processors.events import ClockTick


def test_a_redelivered_purchase_changes_nothing_and_emits_nothing(anna: Member) -> None:
    event = purchase("anna", line(kr(100)), at=anna.later())
    first = anna.apply(event)

    again = anna.apply(event)

    assert again.duplicate and again.refusal is None
    assert again.state is first.state and again.outputs == ()
    assert anna.balance == 110


def test_a_redelivered_enrolment_is_a_duplicate_not_a_second_enrolment() -> None:
    member = Member(club())
    enrolment = enrolled(member.member_id, member.later())
    member.apply(enrolment)

    again = member.apply(enrolment)

    assert again.duplicate and again.refusal is None and again.outputs == ()


def test_an_old_event_replayed_soon_after_it_arrived_is_still_a_duplicate() -> None:
    member = Member(club())
    enrolment = enrolled(member.member_id, member.now - timedelta(days=400))  # imported from an old system
    member.apply(enrolment)
    member.later(days=1)
    member.buy(line(kr(100)))

    again = member.apply(enrolment)  # a crash made ingest send it again

    assert again.duplicate and again.outputs == ()
    assert member.balance == 110


def test_an_event_received_long_after_it_happened_is_applied(anna: Member) -> None:
    anna.later(days=100)
    anna.buy(line(kr(100)))

    late = anna.apply(purchase("anna", line(kr(100)), at=anna.now - timedelta(days=90)))

    assert late.refusal is None and anna.balance == 120


def test_an_event_out_of_order_but_inside_the_window_is_applied(anna: Member) -> None:
    anna.later(days=10)
    anna.buy(line(kr(100)))

    late = anna.apply(purchase("anna", line(kr(100)), at=anna.now - timedelta(days=5)))

    assert late.refusal is None and anna.balance == 120
    assert anna.state is not None and anna.state.last_activity_at == anna.now


def test_ids_older_than_the_window_are_forgotten(anna: Member) -> None:
    for _ in range(PRUNE_FROM + 1):
        anna.buy(line(kr(10)))
    old_ids = set(anna.state.seen_events) if anna.state else set()
    anna.later(days=61)

    anna.buy(line(kr(10)))

    assert anna.state is not None
    assert not old_ids & set(anna.state.seen_events)
    assert len(anna.state.seen_events) == 1


def test_another_event_under_a_reused_id_is_refused_naming_both_times(anna: Member) -> None:
    first_at = anna.later()
    first = anna.apply(purchase("anna", line(kr(100)), at=first_at, event_id="receipt-0001"))
    before = anna.balance

    # The till restarted its receipt numbers the next day.
    reused = anna.apply(purchase("anna", line(kr(300)), at=anna.later(days=1), event_id="receipt-0001"))

    assert first.refusal is None and not reused.duplicate and reused.outputs == ()
    assert reused.refusal is not None and reused.refusal.reason.startswith(
        f"reused event_id receipt-0001: it already named an event that occurred_at {utc_text(first_at)}, and this "
        f"one occurred_at {utc_text(anna.now)}; a different event needs an event_id of its own")
    assert anna.balance == before


def test_a_return_under_its_purchases_id_is_refused_not_dropped(anna: Member) -> None:
    bought = anna.apply(purchase("anna", line(kr(100), line_id="a"), at=anna.later(), order_id="A7", event_id="A7"))

    back = anna.apply(returned("anna", "A7", {"a": 1}, at=anna.later(hours=2), event_id="A7"))

    assert bought.refusal is None
    assert back.refusal is not None and back.refusal.reason.startswith("reused event_id A7: ")


def test_the_same_event_sent_again_is_still_a_duplicate_whatever_else_came_between(anna: Member) -> None:
    event = purchase("anna", line(kr(100)), at=anna.later(), event_id="receipt-0002")
    anna.apply(event)
    anna.later(days=3)
    anna.buy(line(kr(50)))

    again = anna.apply(event)

    assert again.duplicate and again.refusal is None


def test_a_clock_tick_for_a_day_already_ticked_is_a_duplicate_whatever_its_hour(anna: Member) -> None:
    day = anna.later(days=1).replace(hour=3, minute=0, second=0, microsecond=0)
    anna.apply(ClockTick("tick:anna:day", "anna", day, "scheduler"))

    # The tick hour was moved and the engine restarted: the same day's tick comes again at another hour.
    again = anna.apply(ClockTick("tick:anna:day", "anna", day.replace(hour=5), "scheduler"))

    assert again.duplicate and again.refusal is None


def utc_text(when: datetime) -> str:
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")
