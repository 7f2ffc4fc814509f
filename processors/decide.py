"""``decide``: one event and a member's state in, the new state and what to emit out.

Deterministic and free of I/O: it reads only its arguments (times come from
the event, never the clock), so the same events always give the same state and
outputs. It updates the member's state in place, since copying a busy member's
history on every event would cost more than the rules: the caller owns the
state. A duplicate or refused event leaves the state exactly as it was (every
rule checks before it changes anything), but for the id of a final refusal,
remembered so that the same event is not judged again (see ``refusals``).

Events are expected to have passed ``validation.problems`` (the ingest stage
does that); ``decide`` checks what only the member's state can tell. Each rule
lives in its own module: ``dedup``, ``enrolment``, ``purchases`` (with
``earning``, ``tiers``, ``stamps``, ``partners`` and ``nudges``), ``returns``, ``social``,
``campaigns``, ``redemption``, ``donations``, ``referrals``, ``challenges``, ``memberships`` (paid and
assigned tier floors), ``clock`` (birthdays, expiry, reviews), ``engagement`` and ``erasure``; after any of
them, ``unlocks`` tells when the member's points now reach a reward.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from processors.campaigns import apply_to_budget, award, set_segments
from processors.clock import tick
from processors.compiled import CompiledProgram, compiled
from processors.dedup import remember, reused_id
from processors.donations import donate
from processors.engagement import record_engagement
from processors.enrolment import enrol
from processors.erasure import after_erasure, erase
from processors.events import (
    BUDGET_EVENTS,
    CampaignAward,
    CardLinked,
    CardUnlinked,
    ClockTick,
    Donation,
    MemberEnrolled,
    MemberErased,
    MemberEvent,
    MemberSegments,
    MembershipPaid,
    Purchase,
    Redemption,
    RedemptionCancelled,
    Referral,
    ReferralMoved,
    ReferralQualified,
    ReferralRevoked,
    Return,
    SocialShare,
    SurveyAnswered,
    TierAssigned,
)
from processors.memberships import assign_tier, pay_membership
from processors.outputs import Decision, LedgerEntry, TierChanged
from processors.program import Program
from processors.purchases import apply_purchase
from processors.redemption import cancel_redemption, redeem
from processors.referrals import move_referral, revoke_referral, reward_referrer
from processors.refusals import refuse, unknown_member
from processors.returns import apply_return
from processors.social import social_points
from processors.state import CampaignBudget, MemberState
from processors.unlocks import reward_unlocks

_RULES: dict[type, Callable[[MemberState, Any, CompiledProgram], Decision]] = {
    Purchase: apply_purchase,
    Return: apply_return,
    CardLinked: record_engagement,
    CardUnlinked: record_engagement,
    Referral: record_engagement,
    SocialShare: social_points,
    SurveyAnswered: record_engagement,
    Redemption: redeem,
    RedemptionCancelled: cancel_redemption,
    Donation: donate,
    ReferralQualified: reward_referrer,
    ReferralRevoked: revoke_referral,
    ReferralMoved: move_referral,
    ClockTick: tick,
    MembershipPaid: pay_membership,
    CampaignAward: award,
    TierAssigned: assign_tier,
    MemberSegments: set_segments,
    MemberErased: erase,
}


def decide(state: MemberState | CampaignBudget | None, event: MemberEvent, program: Program, received_at: datetime,
           ) -> Decision:
    """Apply ``event``, which the engine received at ``received_at`` (by ingest's clock).

    ``state`` is updated in place and returned in the decision (an enrolment
    makes the first state). ``received_at`` only dates the memory of applied
    event ids; the rules use the event's own time.
    """
    rules = compiled(program)
    seen = None if state is None else state.seen_events.get(event.event_id)
    if seen is not None:
        reused = reused_id(seen, event)
        return Decision(state, duplicate=True) if reused is None else refuse(state, event, reused)
    if type(event) in BUDGET_EVENTS or isinstance(state, CampaignBudget):  # a campaign's budget key, not a member
        decision = apply_to_budget(state, event, rules)
        if decision.refusal is None and decision.state is not None:
            remember(decision.state, event, received_at, rules)
        return decision
    decision = _apply(state, event, rules)
    applied = decision.state
    if type(applied) is not MemberState:
        return decision
    if decision.refusal is not None:
        if decision.refusal.final:  # answered for good: the same event again is a duplicate
            remember(applied, event, received_at, rules)
        return decision
    # What every applied event changes, kept here rather than in each rule.
    remember(applied, event, received_at, rules)
    unlocked = reward_unlocks(applied, event, decision.outputs, rules)
    if unlocked:
        decision = Decision(applied, (*decision.outputs, *unlocked))
    seq = 0
    for output in decision.outputs:
        if type(output) is LedgerEntry:  # the order a statement lists one event's entries in
            output.seq = seq
            seq += 1
        elif type(output) is TierChanged:  # the order of the member's changes, whatever the events' times
            applied.tier_changes += 1
            output.number = applied.tier_changes
    if event.occurred_at > applied.last_activity_at and type(event) is not ClockTick:  # time passing is not activity
        applied.last_activity_at = event.occurred_at
        applied.expiry_warned = False
    return decision


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
    if state.erased_at is not None:
        return after_erasure(state, event, rules)
    if type(event) is MemberEnrolled:
        return enrol(state, event, rules)
    rule = _RULES.get(type(event))
    if rule is None:
        return refuse(state, event, f"no rule for {type(event).__name__} events")
    return rule(state, event, rules)
