"""Campaigns: extra points for a while, for the members and purchases a campaign targets.

A purchase inside a campaign's window, by a member in a targeted tier or
segment, at a targeted store or channel, and of at least the campaign's
minimum spend, earns the campaign's extra: the purchase's points times the
multiplier less the points themselves, plus the fixed bonus. It is a ledger
entry of its own, naming the campaign. Once a member has had the campaign's
``member_budget_points`` the campaign stops paying them, and a
``campaign_budget_spent`` trigger says so. The order keeps its campaign points,
and a return takes them back in proportion to the refund (see ``returns``).
Members' segments come from ``MemberSegments`` events.
"""

from __future__ import annotations

from processors.compiled import CHANNEL_NAMES, CompiledProgram, TierStep
from processors.events import MemberSegments, Purchase
from processors.money import format_multiplier, format_points
from processors.outputs import Activity, Decision, LedgerReason, Output, Trigger
from processors.points import available_at, credit
from processors.program import BASIS_POINTS, Campaign
from processors.state import MemberState


def campaign_points(state: MemberState, event: Purchase, tier: TierStep, points: int, spent_minor: int,
                    rules: CompiledProgram) -> tuple[list[Output], int]:
    """The entries and triggers of the campaigns ``event`` earns from, and the campaign points in all."""
    outputs: list[Output] = []
    total = 0
    for campaign in rules.campaigns:
        if not _targets(campaign, state, event, tier, spent_minor):
            continue
        extra = points * (campaign.multiplier_bp - BASIS_POINTS) // BASIS_POINTS + campaign.bonus_points
        given = state.campaign_points.get(campaign.id, 0)
        budget = campaign.member_budget_points
        if not extra or (budget is not None and given >= budget):
            continue
        words = [f"{format_multiplier(campaign.multiplier_bp)} on {format_points(points)}"
                 if campaign.multiplier_bp > BASIS_POINTS else "",
                 f"a bonus of {format_points(campaign.bonus_points)}" if campaign.bonus_points else ""]
        detail = f"{campaign.name}: {' and '.join(w for w in words if w)} on order {event.order_id}"
        used_up = budget is not None and given + extra >= budget
        if budget is not None and used_up:
            extra = budget - given
            detail += f", up to the campaign's {format_points(budget)} per member"
        state.campaign_points[campaign.id] = given + extra
        outputs.append(credit(state, event, rules, LedgerReason.CAMPAIGN, extra, detail,
                              suffix=f"campaign:{campaign.id}", order_id=event.order_id,
                              available_at=available_at(event.occurred_at, rules)))
        if used_up:
            outputs.append(Trigger(f"{event.event_id}:campaign_budget_spent:{campaign.id}", event.member_id,
                                   event.event_id, event.occurred_at, "campaign_budget_spent",
                                   f"You have had all {format_points(budget or 0)} {campaign.name} gives: thank you!",
                                   {"campaign": campaign.id}))
        total += extra
    return outputs, total


def set_segments(state: MemberState, event: MemberSegments, rules: CompiledProgram) -> Decision:
    state.segments = sorted(set(event.segments))
    return Decision(state, (Activity(event.event_id, event.member_id, event.occurred_at, "segments", None, None,
                                     None, 0, 0, None),))


def _targets(campaign: Campaign, state: MemberState, event: Purchase, tier: TierStep, spent_minor: int) -> bool:
    if not campaign.starts <= event.occurred_at < campaign.ends or spent_minor < campaign.minimum_spend_minor:
        return False
    target = campaign.target
    return ((not target.tiers or tier.name in target.tiers)
            and (not target.channels or CHANNEL_NAMES[event.channel] in target.channels)
            and (not target.stores or event.store_id in target.stores)
            and (not target.segments or not target.segments.isdisjoint(state.segments)))
