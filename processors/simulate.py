"""Simulate: "what would this purchase earn this member?", answered without changing anything.

The same ``decide`` the engine runs, on a copy of the member's state, so a
simulated answer can never differ from what the engine would do with the same
state, and the member's real state is left exactly as it was.

A campaign with a total budget pays a moment after the purchase, once its
budget's key has granted the claim (see ``campaigns``). The simulation follows
the claim there and the award back, through the same rules, to a budget with
all its points left: it cannot know what other members have claimed, so the
answer says it assumed so.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import NamedTuple

from processors.compiled import compiled
from processors.decide import decide
from processors.events import CampaignAward, CampaignClaim, MemberEvent
from processors.money import format_points
from processors.outputs import Decision, FollowUp, Output
from processors.program import Program
from processors.state import MemberState


class Simulation(NamedTuple):
    decision: Decision  # with what campaigns with a total budget would award
    assumed: tuple[str, ...]  # what the answer takes for granted, in words


def simulate(state: MemberState, event: MemberEvent, program: Program) -> Simulation:
    """The decision ``event`` would get, campaigns included; ``state`` is not touched."""
    member = copy.deepcopy(state)
    decision = decide(member, event, program, event.occurred_at)
    outputs: list[Output] = []
    assumed: list[str] = []
    for output in decision.outputs:
        if not (isinstance(output, FollowUp) and isinstance(output.event, CampaignClaim)):
            outputs.append(output)
            continue
        claim = output.event
        for answer in decide(None, claim, program, claim.occurred_at).outputs:
            if isinstance(answer, FollowUp) and isinstance(answer.event, CampaignAward):
                outputs += decide(member, answer.event, program, claim.occurred_at).outputs
        campaign = compiled(program).campaigns_by_id[claim.campaign]
        assumed.append(f"{campaign.name} has a total budget of {format_points(campaign.budget_points or 0)}: "
                       f"assumed to have {format_points(claim.points)} left")
    return Simulation(Decision(member, tuple(outputs), decision.refusal, decision.duplicate), tuple(assumed))


def member_in_tier(member_id: str, tier: str, balance: int, since: datetime, *, segments: Iterable[str] = (),
                   campaign_points: Mapping[str, int] | None = None) -> MemberState:
    """A member known only by what the analytics store holds: tier and balance, the segments they are in and what
    each campaign has given them (for campaigns that target segments or cap what a member gets), no other history.
    """
    return MemberState(member_id=member_id, enrolled_at=since, tier=tier, balance=balance, lifetime_points=balance,
                       spend_by_month={}, seen_events={}, orders={}, last_activity_at=since,
                       near_tier_notified=None, segments=sorted(set(segments)),
                       campaign_points=dict(campaign_points or {}))


def given_by_campaign(entries: Iterable[tuple[str, str, int]], program: Program) -> dict[str, int]:
    """What each of the program's campaigns has given a member, net of returns, from the member's ledger
    entries as (entry id, reason, points): a campaign's entries are the ones whose ids end with its id."""
    given: dict[str, int] = {}
    for entry_id, reason, points in entries:
        if reason != "campaign":
            continue
        for campaign in program.campaigns:
            if entry_id.endswith((f":campaign:{campaign.id}", f":campaign_returned:{campaign.id}")):
                given[campaign.id] = given.get(campaign.id, 0) + points
                break
    return {campaign: points for campaign, points in given.items() if points > 0}
