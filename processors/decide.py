"""``decide``: one event and a member's state in, the new state and what to emit out.

Pure and deterministic: it reads only its arguments (times come from the
event, never the clock) and returns new values, so the same events always give
the same state and outputs. It never mutates its inputs; a field that does not
change is shared with the old state rather than copied.

Events are expected to have passed ``validation.problems`` (the ingest stage
does that); ``decide`` checks what only the member's state can tell. Each rule
lives in its own module: ``dedup``, ``enrolment``, ``purchases`` (with
``earning`` and ``tiers``), ``returns`` and ``engagement``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from processors.compiled import CompiledProgram, compiled
from processors.dedup import already_applied, remember
from processors.engagement import record_engagement
from processors.enrolment import enrol
from processors.events import CardLinked, MemberEnrolled, MemberEvent, Purchase, Referral, Return, SocialShare
from processors.outputs import Decision
from processors.program import Program
from processors.purchases import apply_purchase
from processors.refusals import refuse, unknown_member
from processors.returns import apply_return
from processors.state import MemberState

_RULES: dict[type, Callable[[MemberState, Any, CompiledProgram], Decision]] = {
    Purchase: apply_purchase,
    Return: apply_return,
    CardLinked: record_engagement,
    Referral: record_engagement,
    SocialShare: record_engagement,
}


def decide(state: MemberState | None, event: MemberEvent, program: Program, received_at: datetime) -> Decision:
    """Apply ``event``, which the engine received at ``received_at`` (the input message's timestamp).

    ``received_at`` only dates the memory of applied event ids; the rules use the
    event's own time.
    """
    rules = compiled(program)
    if state is not None and already_applied(state.seen_events, event.event_id):
        return Decision(state, duplicate=True)
    decision = _apply(state, event, rules)
    if decision.refusal is not None or decision.state is None:
        return decision
    # Two things every applied event changes, kept here rather than in each rule.
    new = decision.state
    seen = remember(new.seen_events, event.event_id, received_at, rules)
    latest = max(new.last_activity_at, event.occurred_at)
    return Decision(replace(new, seen_events=seen, last_activity_at=latest), decision.outputs)


def _apply(state: MemberState | None, event: MemberEvent, rules: CompiledProgram) -> Decision:
    if state is None:
        if type(event) is MemberEnrolled:
            return enrol(None, event, rules)
        return unknown_member(event)
    if state.member_id != event.member_id:
        return refuse(
            state,
            event,
            f"event for member {event.member_id} was applied to member {state.member_id}'s state",
        )
    if type(event) is MemberEnrolled:
        return enrol(state, event, rules)
    rule = _RULES.get(type(event))
    if rule is None:
        return refuse(state, event, f"no rule for {type(event).__name__} events")
    return rule(state, event, rules)
