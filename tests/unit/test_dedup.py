"""A redelivered event changes nothing, however old the event itself is."""

from __future__ import annotations

from datetime import timedelta

from builders import Member, club, enrolled, kr, line, purchase

from processors.dedup import PRUNE_FROM


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
