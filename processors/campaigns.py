"""Campaigns: extra points for a while, for the members and purchases a campaign targets.

A purchase inside a campaign's window, by a member in a targeted tier or
segment, at a targeted store or channel, and of at least the campaign's
minimum spend, earns the campaign's extra: the purchase's points times the
multiplier less the points themselves, plus the fixed bonus. It is a ledger
entry of its own, naming the campaign. Once a member has had the campaign's
``member_budget_points`` the campaign stops paying them, and a
``campaign_budget_spent`` trigger says so. The order keeps its campaign points,
by campaign, and a return takes them back (see ``returns``), in a campaign entry
for each campaign: the multiplied part follows the points of the returned lines
(returning lines that earned a third of what is left of the order's points
takes back a third of what is left of it, rounded down, and the last of them
all that is left), and a fixed bonus is taken back whole once what is kept of
the order no longer qualifies for it (under the campaign's minimum spend, or
nothing left), else kept. Where the member budget cut the extra, the bonus
counts first. What a return takes back no longer counts against the budgets,
so the member (or, from a total budget, anyone) can earn it again.
Members' segments come from ``MemberSegments`` events.

A total budget (``budget_points``) is shared by members on every partition,
so it is counted in one place: the purchase sends a ``CampaignClaim`` to the
campaign's own key (``campaign:ID``), where a ``CampaignBudget`` grants what
is left, one claim at a time, and sends a ``CampaignAward`` back; the member
is credited what was granted, and told when the budget ran out. A return sends
the points it takes back to the campaign's key in a ``CampaignRelease``, and
so does an award that finds its order returned meanwhile, for what the
returns would have taken back of it. All are the engine's own events, with
ids derived from the purchase or the return, so replays change nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

from processors.compiled import CHANNEL_NAMES, CompiledProgram, TierStep
from processors.events import (
    BUDGET_EVENTS,
    CAMPAIGN_KEY_PREFIX,
    CampaignAward,
    CampaignClaim,
    CampaignRelease,
    MemberEvent,
    MemberSegments,
    Purchase,
    Return,
)
from processors.holdout import held_out
from processors.money import format_multiplier, format_points
from processors.outputs import (
    AWARD_SUFFIX,
    CLAIM_SUFFIX,
    RELEASE_SUFFIX,
    Activity,
    Decision,
    FollowUp,
    LedgerReason,
    Output,
    Trigger,
)
from processors.points import TakenBack, available_at, credit, take_back
from processors.program import BASIS_POINTS, Campaign
from processors.refusals import refuse
from processors.state import CampaignBudget, LineRecord, MemberState, OrderRecord


def campaign_points(state: MemberState, event: Purchase, tier: TierStep, points: int, spent_minor: int,
                    rules: CompiledProgram) -> tuple[list[Output], dict[str, int], dict[str, int]]:
    """The entries and triggers of the campaigns ``event`` earns from, and the points credited and the fixed
    bonuses among them, by campaign.

    Points from a total budget are not among them: they come with the award.
    """
    outputs: list[Output] = []
    credited: dict[str, int] = {}
    bonuses: dict[str, int] = {}
    for campaign in rules.campaigns:
        if not _targets(campaign, state, event, tier, spent_minor):
            continue
        # The holdout gets no campaign points: asked only once a campaign targets the purchase, as most are not.
        if held_out(event.member_id, rules.holdout_bp):
            break
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
        if campaign.budget_points is None:
            outputs.append(credit(state, event, rules, LedgerReason.CAMPAIGN, extra, detail,
                                  suffix=f"campaign:{campaign.id}", order_id=event.order_id,
                                  available_at=available_at(event.occurred_at, rules)))
            credited[campaign.id] = extra
            bonuses[campaign.id] = min(campaign.bonus_points, extra)
        else:  # the points come with the award, if the total budget grants them
            claim_id = f"{event.event_id}:{campaign.id}{CLAIM_SUFFIX}"
            outputs.append(FollowUp(CampaignClaim(claim_id, f"{CAMPAIGN_KEY_PREFIX}{campaign.id}", event.occurred_at,
                                                  "engine", campaign.id, event.member_id, event.order_id, extra)))
        if used_up:
            outputs.append(Trigger(f"{event.event_id}:campaign_budget_spent:{campaign.id}", event.member_id,
                                   event.event_id, event.occurred_at, "campaign_budget_spent",
                                   f"You have had all {format_points(budget or 0)} {campaign.name} gives: thank you!",
                                   {"campaign": campaign.id}))
    return outputs, credited, bonuses


def apply_to_budget(budget: CampaignBudget | MemberState | None, event: MemberEvent, rules: CompiledProgram,
                    ) -> Decision:
    """At a campaign's key: grant a claim what is left of the total budget and send the award, or take back
    into the budget the points a return released."""
    if isinstance(budget, MemberState) or not isinstance(event, BUDGET_EVENTS):
        return refuse(budget, event, f"{event.member_id} is a campaign's budget key: only the engine's campaign "
                                     "claims and releases go there, and a campaign's claims and releases only there")
    campaign = rules.campaigns_by_id.get(event.campaign)
    if campaign is None or campaign.budget_points is None:
        return refuse(budget, event, f"campaign {event.campaign} has no total budget in {rules.name}")
    if budget is None:
        budget = CampaignBudget(campaign.id, 0, {})
    if isinstance(event, CampaignRelease):
        budget.granted -= min(event.points, budget.granted)
        return Decision(budget)
    granted = max(0, min(event.points, campaign.budget_points - budget.granted))
    budget.granted += granted
    award_id = event.event_id.removesuffix(CLAIM_SUFFIX) + AWARD_SUFFIX
    outputs: list[Output] = [FollowUp(CampaignAward(award_id, event.claimant, event.occurred_at, "engine",
                                                    campaign.id, event.order_id, granted, event.points))]
    if granted and budget.granted >= campaign.budget_points:
        outputs.append(Trigger(f"{event.event_id}:campaign_budget_spent", event.member_id, event.event_id,
                               event.occurred_at, "campaign_budget_spent",
                               f"{campaign.name} has given all of its {format_points(campaign.budget_points)}",
                               {"campaign": campaign.id}))
    return Decision(budget, tuple(outputs))


def award(state: MemberState, event: CampaignAward, rules: CompiledProgram) -> Decision:
    """What a campaign's budget granted for the member's order: credited, and the shortfall said.

    An order returned meanwhile keeps only what is left of it: of the grant, what
    the returns would have left had it come with the purchase (see
    ``campaign_points_kept``), and the rest goes back to the budget; an order
    returned in full keeps nothing.
    """
    campaign = rules.campaigns_by_id.get(event.campaign)
    name = campaign.name if campaign is not None else event.campaign
    order = state.orders.get(event.order_id)
    returned = order is not None and not any(line.quantity for line in order.lines.values())
    outputs: list[Output] = []
    bonus = min(campaign.bonus_points if campaign is not None else 0, event.points)
    credited = bonus_kept = 0
    if order is None:
        credited, bonus_kept = event.points, bonus
    elif not returned:
        # The order as bought, with the grant: what its returns since would have left of it (the points of
        # an order kept from before the engine knew the points as bought: those left).
        points = max(order.bought_points, sum(line.points for line in order.lines.values()))
        bought = OrderRecord(order.occurred_at, {"": LineRecord(1, 0, points)},
                             campaign_points={event.campaign: event.points}, campaign_bonus={event.campaign: bonus})
        kept, kept_bonus = campaign_points_kept(bought, order.lines, rules)
        credited, bonus_kept = kept.get(event.campaign, 0), kept_bonus.get(event.campaign, 0)
    if credited:
        detail = (f"{name}: {format_points(event.points)} on order {event.order_id}" if credited == event.points
                  else f"{name}: {format_points(credited)} of {format_points(event.points)} on order "
                       f"{event.order_id}, for what is left of it after a return")
        outputs.append(credit(state, event, rules, LedgerReason.CAMPAIGN, credited, detail,
                              suffix=f"campaign:{event.campaign}", order_id=event.order_id,
                              available_at=available_at(order.occurred_at, rules) if order is not None else None))
        if order is not None:
            state.orders[event.order_id] = order._replace(
                campaign_points={**order.campaign_points,
                                 event.campaign: order.campaign_points.get(event.campaign, 0) + credited},
                campaign_bonus={**order.campaign_bonus,
                                event.campaign: order.campaign_bonus.get(event.campaign, 0) + bonus_kept})
    if event.points > credited:
        outputs.append(_release(event.event_id.removesuffix(AWARD_SUFFIX), event, event.campaign,
                                event.points - credited))
    _uncount(state, event.campaign, event.claimed - credited)
    if event.points < event.claimed and not returned:
        outputs.append(Trigger(f"{event.event_id}:campaign_budget_spent", event.member_id, event.event_id,
                               event.occurred_at, "campaign_budget_spent",
                               f"{name} has given all of its budget: order {event.order_id} got "
                               f"{format_points(event.points)} of {format_points(event.claimed)}",
                               {"campaign": event.campaign}))
    outputs.append(Activity(event.event_id, event.member_id, event.occurred_at, "campaign_award", None, None, None,
                            0, credited, event.order_id))
    return Decision(state, tuple(outputs))


def campaign_points_kept(order: OrderRecord, lines_left: Mapping[str, LineRecord], rules: CompiledProgram,
                         ) -> tuple[dict[str, int], dict[str, int]]:
    """What is kept of ``order``'s campaign points, and of the fixed bonuses among them, by campaign, once it is
    returned down to ``lines_left``.

    The multiplied part follows the lines' points, exactly: the share of it the
    returned lines' points are of the points left, rounded down, and all of it
    once no line points are left. A bonus is kept whole while what is kept still
    qualifies for it: something left, and at least the campaign's minimum spend.
    """
    points_before = sum(line.points for line in order.lines.values())
    points_after = sum(line.points for line in lines_left.values())
    spend_after = sum(line.amount_minor for line in lines_left.values())
    anything_left = any(line.quantity for line in lines_left.values())
    kept: dict[str, int] = {}
    kept_bonus: dict[str, int] = {}
    for campaign_id, points in order.campaign_points.items():
        campaign = rules.campaigns_by_id.get(campaign_id)
        minimum = campaign.minimum_spend_minor if campaign is not None else 0
        bonus = order.campaign_bonus.get(campaign_id, 0)
        multiplied = points - bonus
        if points_after and anything_left:
            multiplied -= multiplied * (points_before - points_after) // points_before
        else:
            multiplied = 0
        if not anything_left or spend_after < minimum:
            bonus = 0
        if multiplied + bonus:
            kept[campaign_id] = multiplied + bonus
            kept_bonus[campaign_id] = bonus
    return kept, kept_bonus


def take_back_campaign_points(state: MemberState, event: Return, order: OrderRecord, kept: Mapping[str, int],
                              kept_bonus: Mapping[str, int], rules: CompiledProgram, expired: int) -> TakenBack:
    """A return takes back what it does not leave of ``order``'s campaign points (``kept``, by campaign), in
    an entry for each campaign, but for the ``expired`` ones of the order (see ``returns``).

    What it takes back no longer counts against the member's budget, and a total budget gets it back.
    """
    outputs: list[Output] = []
    taken = left = 0
    for campaign_id, had in order.campaign_points.items():
        points = had - kept.get(campaign_id, 0)
        if not points:
            continue
        campaign = rules.campaigns_by_id.get(campaign_id)
        name = campaign.name if campaign is not None else campaign_id or "Campaign points"
        detail = f"{name}: {format_points(points)} of order {event.order_id} taken back with its return"
        bonus = order.campaign_bonus.get(campaign_id, 0)
        if bonus > kept_bonus.get(campaign_id, 0):
            detail += (f", the bonus of {format_points(bonus)} among them: what is kept of the order no longer "
                       "qualifies for it")
        gone = min(points, expired - left)
        entry = take_back(state, event, rules, LedgerReason.CAMPAIGN, points, detail, order.occurred_at,
                          suffix=f"campaign_returned:{campaign_id}", order_id=event.order_id, expired=gone)
        outputs.append(entry)
        taken -= entry.points
        left += gone
        _uncount(state, campaign_id, -entry.points)  # points forgiven (cap_at_zero) stay given
        if -entry.points and campaign is not None and campaign.budget_points is not None:
            outputs.append(_release(f"{event.event_id}:{campaign_id}", event, campaign_id, -entry.points))
    return TakenBack(outputs, taken, left)


def _uncount(state: MemberState, campaign_id: str, points: int) -> None:
    """``points`` of a campaign's no longer count against the member's budget."""
    given = state.campaign_points.get(campaign_id)
    if given is not None and points:
        state.campaign_points[campaign_id] = max(0, given - points)


def _release(id_stem: str, event: Return | CampaignAward, campaign_id: str, points: int) -> FollowUp:
    return FollowUp(CampaignRelease(f"{id_stem}{RELEASE_SUFFIX}", f"{CAMPAIGN_KEY_PREFIX}{campaign_id}",
                                    event.occurred_at, "engine", campaign_id, event.member_id, event.order_id, points))


def set_segments(state: MemberState, event: MemberSegments, rules: CompiledProgram) -> Decision:
    state.segments = sorted(set(event.segments))
    return Decision(state, (Activity(event.event_id, event.member_id, event.occurred_at, "segments", None, None,
                                     None, 0, 0, None, segments=tuple(state.segments)),))


def _targets(campaign: Campaign, state: MemberState, event: Purchase, tier: TierStep, spent_minor: int) -> bool:
    if not campaign.starts <= event.occurred_at < campaign.ends or spent_minor < campaign.minimum_spend_minor:
        return False
    target = campaign.target
    return ((not target.tiers or tier.name in target.tiers)
            and (not target.channels or CHANNEL_NAMES[event.channel] in target.channels)
            and (not target.stores or event.store_id in target.stores)
            and (not target.segments or not target.segments.isdisjoint(state.segments)))
