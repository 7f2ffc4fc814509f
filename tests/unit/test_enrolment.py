"""Joining the program, and events for members who have not joined."""

from __future__ import annotations

from builders import T0, Member, club, enrolled, kr, line, purchase

from processors.decide import decide
from processors.outputs import Activity, LedgerEntry, LedgerReason, RewardIssued, Trigger


def test_a_new_member_starts_in_the_base_tier_with_the_welcome_bonus() -> None:
    event = enrolled("anna", T0, event_id="e-1")

    decision = decide(None, event, club(), event.occurred_at)

    ledger, reward, trigger, activity = decision.outputs
    assert isinstance(ledger, LedgerEntry) and isinstance(reward, RewardIssued)
    assert isinstance(trigger, Trigger) and isinstance(activity, Activity)
    assert (ledger.entry_id, ledger.reason, ledger.points, ledger.balance_after) == (
        "e-1:welcome",
        LedgerReason.WELCOME,
        100,
        100,
    )
    assert (reward.reward_id, reward.reward, reward.points) == ("e-1:welcome_bonus", "welcome_bonus", 100)
    assert (trigger.trigger_id, trigger.kind) == ("e-1:welcome", "welcome")
    assert (activity.event_type, activity.channel, activity.points) == ("enrolled", "app", 100)
    state = decision.state
    assert state is not None
    assert (state.tier, state.balance, state.enrolled_at, state.last_activity_at) == ("Member", 100, T0, T0)


def test_without_a_welcome_bonus_only_the_activity_is_emitted() -> None:
    event = enrolled("anna")
    decision = decide(None, event, club(welcome_bonus_points=0), event.occurred_at)

    assert [type(o) for o in decision.outputs] == [Activity]
    assert decision.state is not None and decision.state.balance == 0


def test_events_for_a_member_who_never_enrolled_are_refused() -> None:
    event = purchase("bob", line(kr(100)))
    decision = decide(None, event, club(), event.occurred_at)

    assert decision.state is None and decision.outputs == ()
    assert decision.refusal is not None
    assert decision.refusal.reason == ("unknown member bob: not enrolled (yet); once the member's enrolment is "
                                      "applied, a running engine sends this event again by itself")


def test_enrolling_twice_is_refused(anna: Member) -> None:
    decision = anna.enrol()

    assert decision.refusal is not None and "already enrolled" in decision.refusal.reason
    assert anna.balance == 100
