"""A purchase: points for the order, qualifying spend, tier moves, and the order kept for returns.

How the points are worked out is in ``earning``; how spend moves a member
between tiers is in ``tiers``; this module puts one purchase through both and
records the result. A purchase must be in the program's currency: the engine
never converts money, since a rate would make a balance unexplainable.
"""

from __future__ import annotations

from processors.campaigns import campaign_points
from processors.challenges import count_visit
from processors.compiled import CHANNEL_NAMES, CompiledProgram
from processors.earning import award_points
from processors.events import Purchase
from processors.money import format_points
from processors.nudges import purchase_nudges
from processors.outputs import Activity, ActivityLine, Decision, LedgerReason, Output
from processors.partners import settlement
from processors.points import available_at, credit, debit, spendable
from processors.referrals import friends_first_purchase
from processors.refusals import refuse
from processors.returns import keep_order
from processors.stamps import add_stamps
from processors.state import LineRecord, MemberState, OrderRecord
from processors.tiers import add_to_record, held_tier, near_tier, raise_earned_tier, tier_up


def apply_purchase(state: MemberState, event: Purchase, rules: CompiledProgram) -> Decision:
    if event.currency != rules.currency:
        return refuse(
            state,
            event,
            f"order {event.order_id} is in {event.currency} "
            f"but program {rules.name} runs in {rules.currency}: "
            f"send {event.currency} purchases to a program in that currency",
        )
    if event.order_id in state.orders:
        return refuse(
            state,
            event,
            f"order {event.order_id} is already recorded for member {event.member_id} by another event: "
            "send a Return to change it",
            final=True,  # once the order is forgotten, judged again it would earn a second time
        )
    partner = None
    if event.partner_id is not None:
        partner = rules.partners.get(event.partner_id)
        if partner is None:
            known = ", ".join(rules.partners) or "none"
            return refuse(state, event,
                          f"partner {event.partner_id} is not a partner of {rules.name} (partners: {known})")
    event_id, member_id, when, order_id = event.event_id, event.member_id, event.occurred_at, event.order_id
    if event.points_used:
        has = spendable(state, when, rules)
        if has < event.points_used:
            return refuse(state, event, f"order {order_id} pays with {format_points(event.points_used)}; "
                                        f"member {member_id} has {format_points(has)} to spend", final=True)
    tier = held_tier(state, rules)
    carried = state.carried
    if carried and state.carried_divisor != rules.points_divisor:  # the program's rates changed: rescale, down
        carried = carried * rules.points_divisor // state.carried_divisor
    earning = award_points(event.lines, tier, event.payment_method, carried, rules, partner)
    points, spent = earning.points, earning.spent_minor

    # Each line's record for returns and its activity row, in one pass (one zip, no comprehension frames).
    records: dict[str, LineRecord] = {}
    activity_lines: list[ActivityLine] = []
    for line, qualifying, earned in zip(event.lines, earning.qualifying_minor, earning.line_points, strict=True):
        records[line.line_id] = LineRecord(line.quantity, qualifying, earned)
        activity_lines.append(
            ActivityLine(line.line_id, line.sku, line.category, line.quantity, line.amount_minor, earned))

    record = add_to_record(state, when, rules, spent, points)
    reached = raise_earned_tier(state, record, rules)
    notified = state.near_tier_notified

    outputs: list[Output] = []
    paid_from: dict[str, int] = {}
    if event.points_used:
        outputs.append(debit(state, event, LedgerReason.POINTS_PAYMENT, event.points_used,
                             f"Paid {format_points(event.points_used)} of order {order_id} with points",
                             order_id=order_id, spent_from=paid_from))
    if points:
        outputs.append(credit(state, event, rules, LedgerReason.PURCHASE, points, earning.detail, order_id=order_id,
                              available_at=available_at(when, rules)))
    boosted: dict[str, int] = {}
    bonuses: dict[str, int] = {}
    if rules.campaigns:
        extra, boosted, bonuses = campaign_points(state, event, tier, points, spent, rules)
        outputs += extra
    if reached is not tier:
        outputs += tier_up(event, tier, reached, record, rules)
    nudge = near_tier(event, reached, record, notified, rules)
    if nudge is not None:
        outputs.append(nudge)
        notified = reached.next_name
    if rules.stamp_cards:
        outputs += add_stamps(state, event, rules)
    outputs += purchase_nudges(state, event, rules)
    if partner is not None and event.points_used:
        outputs.append(settlement(event, partner.partner, "burn", -event.points_used, rules.currency,
                                  f"{format_points(event.points_used)} paid with on order {order_id}",
                                  suffix="settlement_burn"))
    if partner is not None and points:
        outputs.append(settlement(event, partner.partner, "earn", points, rules.currency,
                                  f"{partner.partner.name} gave {format_points(points)} on order {order_id}"))
    outputs.append(
        Activity(
            event_id,
            member_id,
            when,
            "purchase",
            CHANNEL_NAMES[event.channel],
            event.store_id,
            event.currency,
            event.total_minor,
            points + sum(boosted.values()) - event.points_used,
            order_id,
            tuple(activity_lines),
        )
    )

    state.near_tier_notified = notified
    if rules.carry_remainder:
        state.carried, state.carried_divisor = earning.remainder, rules.points_divisor
    total = event.total_minor if event.points_used else 0
    keep_order(state, order_id, OrderRecord(when, records, event.partner_id, event.points_used, total, boosted,
                                            campaign_bonus=bonuses, bought_points=points,
                                            carried=earning.remainder - carried if rules.carry_remainder else 0,
                                            paid_from=paid_from),
               when, rules)
    if state.referred_by is not None:  # after the purchase's own points: the friend's reward comes on top
        outputs += friends_first_purchase(state, event, spent, rules)
    if rules.challenges and spent:  # a visit buys something that qualifies, as for tiers: not only a gift card
        outputs += count_visit(state, event, rules)
    return Decision(state, tuple(outputs))
