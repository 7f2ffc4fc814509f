"""Returns take back exactly what the returned units earned, and never more.

A purchase keeps, per line, the units, qualifying spend and points that a
return could still reverse, for ``return_window_days``: a return is accepted
strictly before the purchase's time plus the window, so at that instant, when
points pending as long as the window can be spent, the order can no longer be returned. The order is kept
``late_return_days`` longer, for a return made inside the window that reaches the engine late. Returning ``q`` of the
``n`` units left on a line gives back ``points_left * q // n`` points (and the
same share of its qualifying spend): returning the last units gives back
exactly what is left, so however an order is returned in parts the reversals
add up to what it earned, and no part ever reverses more than it earned. A
return that leaves the order's qualifying spend under the minimum for points
(the program's, or the partner's it was bought at) takes back the points left
on its other lines too: bought that way, the order would have earned none.
In a program that carries remainders, the return that leaves no points on the
order also takes back the part of a point it left over for later orders (or
gives back the part it took from earlier ones), exactly: if that part has
since made a whole point, one more point is taken back and the rest stays
carried.

When the points were already spent, the program's ``return_after_spend``
decides: ``negative_balance`` takes them all back (the balance goes below
zero), ``cap_at_zero`` takes back only down to zero and forgives the rest; the
ledger entry says which, either way. A return of an order bought at a
coalition partner also takes the points off the partner's settlement, and the
points paid with that it gives back off what the program owes the partner
(unless the partner has since left the program, which leaves nothing to settle with).

An order paid partly with points gets them back with a refund, in proportion
to the refund's share of the order's total (all that is left with the last
return), before the returned lines' own points are taken back; where points
expire by age they go back to the lots they were paid from, the oldest first,
and expire at once if that day has passed. The points
campaigns gave the order follow the returned lines' points (a fixed bonus goes
whole once what is kept no longer qualifies for it: see ``campaigns``), and
go back to the campaigns' budgets.

Points expiry took (by age, or after inactivity) are gone already: a return
never takes them back a second time. Expiry notes on each order kept for
returns how many of its points it took (see ``expiry.orders_expired``), and a return
takes back only the rest, saying so in the ledger entry's detail.
"""

from __future__ import annotations

from datetime import datetime
from fractions import Fraction

from processors.campaigns import campaign_points_kept, take_back_campaign_points
from processors.compiled import CompiledProgram
from processors.events import Return
from processors.expiry import expire_due_lots
from processors.money import format_money, format_points
from processors.outputs import Activity, ActivityLine, Decision, LedgerEntry, LedgerReason, Output
from processors.partners import settlement
from processors.points import credit, split_lots, take_back
from processors.referrals import referral_returned
from processors.refusals import refuse
from processors.state import LineRecord, MemberState, OrderRecord
from processors.tiers import remove_from_record


def keep_order(state: MemberState, order_id: str, record: OrderRecord, when: datetime,
               rules: CompiledProgram) -> None:
    """Keep ``record`` for returns, and drop orders past the return window and the program's margin for late
    returns: a return made inside the window may reach the engine after a purchase made beyond it.

    Only the first-inserted order is looked at on each call (orders arrive
    roughly in time order); when it has left the window, all are checked.
    """
    orders = state.orders
    orders[order_id] = record
    cutoff = when - rules.orders_kept
    if next(iter(orders.values())).occurred_at <= cutoff:
        state.orders = {key: order for key, order in orders.items() if order.occurred_at > cutoff}


def apply_return(state: MemberState, event: Return, rules: CompiledProgram) -> Decision:
    event_id, member_id, when, order_id = event.event_id, event.member_id, event.occurred_at, event.order_id
    order = state.orders.get(order_id)
    if order is None or when >= order.occurred_at + rules.return_window:  # the window ends as points become spendable
        return refuse(
            state,
            event,
            f"order {order_id} not found for member {member_id} "
            f"(unknown, or older than the {rules.return_window_days}-day return window)",
        )
    if event.currency != rules.currency:
        return refuse(
            state,
            event,
            f"return of order {order_id} is in {event.currency} but the order was in {rules.currency}",
        )

    lines = dict(order.lines)
    points_back = amount_back = 0
    activity_lines: list[ActivityLine] = []
    words: list[str] = []
    for returned in event.lines:
        line_id, quantity = returned.line_id, returned.quantity
        left = lines.get(line_id)
        if left is None:
            return refuse(state, event, f"line {line_id} is not in order {order_id}")
        if quantity <= 0:
            return refuse(state, event, f"line {line_id}: returned quantity must be positive, got {quantity}")
        if quantity > left.quantity:
            return refuse(
                state,
                event,
                f"line {line_id} of order {order_id}: "
                f"{quantity} returned but only {left.quantity} left to return",
            )
        line_points = left.points * quantity // left.quantity
        line_amount = left.amount_minor * quantity // left.quantity
        lines[line_id] = LineRecord(
            left.quantity - quantity, left.amount_minor - line_amount, left.points - line_points
        )
        points_back += line_points
        amount_back += line_amount
        activity_lines.append(ActivityLine(line_id, "", "", -quantity, -line_amount, -line_points))
        words.append(
            f"{quantity} of {left.quantity} left on line {line_id} gives back {format_points(line_points)}"
        )
    under = _under_minimum(order, lines, rules)
    if under is not None:
        kept_points = sum(line.points for line in lines.values())
        activity_lines += [ActivityLine(line_id, "", "", 0, 0, -line.points)
                           for line_id, line in lines.items() if line.points]
        lines = {line_id: line._replace(points=0) for line_id, line in lines.items()}
        points_back += kept_points
        words.append(f"{under}, so the {format_points(kept_points)} left on the order go back too")
    carried, carried_back = state.carried, 0
    settles = bool(order.carried and state.carried_divisor) and not any(line.points for line in lines.values())
    if settles:
        carried_back, carried = _carried_back(order.carried, carried, state.carried_divisor)
        if not carried_back:
            words.append(_carried_words(order.carried, state.carried_divisor, order_id))

    outputs: list[Output] = []
    given_back = _refund_share(order.points_used, order, event, lines)
    paid_back, paid_left = split_lots(order.paid_from, given_back)
    campaigns_kept, bonuses_kept = campaign_points_kept(order, lines, rules)
    campaigns_back = sum(order.campaign_points.values()) - sum(campaigns_kept.values())
    if given_back:
        outputs.append(credit(state, event, rules, LedgerReason.POINTS_REFUND, given_back,
                              f"Order {order_id} was paid partly with points: {format_points(given_back)} back "
                              f"with the refund of {format_money(event.refund_minor, rules.currency)}",
                              order_id=order_id, earned=False, spent_from=paid_back))
    taken = 0
    expired = order.expired  # what expiry took of the order's points: taken back first, as gone already
    if points_back:
        gone = min(points_back, expired)
        entry = take_back(state, event, rules, LedgerReason.RETURN, points_back,
                          f"Return from order {order_id}: {'; '.join(words)}", order.occurred_at, order_id=order_id,
                          expired=gone)
        outputs.append(entry)
        taken = -entry.points
        expired -= gone
    if campaigns_back:
        campaigns = take_back_campaign_points(state, event, order, campaigns_kept, bonuses_kept, rules, expired)
        outputs += campaigns.outputs
        taken += campaigns.taken
        expired -= campaigns.expired
    if carried_back:
        whole = _carried_entry(state, event, order.carried, carried_back, carried, rules)
        outputs.append(whole)
        taken -= whole.points
    referral = referral_returned(state, event, order, lines, rules, expired) if order.referrer is not None else None
    if referral is not None:
        outputs += referral.outputs
        taken += referral.taken
        expired -= referral.expired
    activity = Activity(event_id, member_id, when, "return", None, None, event.currency, -event.refund_minor,
                        given_back - taken, order_id, tuple(activity_lines))
    outputs.append(activity)
    partner = rules.partners.get(order.partner_id) if order.partner_id is not None else None
    if partner is not None and points_back:
        outputs.append(settlement(event, partner.partner, "return", -points_back, rules.currency,
                                  f"return from order {order_id} takes back {format_points(points_back)}"))
    if partner is not None and given_back:
        outputs.append(settlement(event, partner.partner, "burn_cancelled", given_back, rules.currency,
                                  f"return from order {order_id} gives back {format_points(given_back)} paid with",
                                  suffix="settlement_burn_cancelled"))
    state.lifetime_points -= points_back + carried_back + campaigns_back
    state.carried = carried
    remove_from_record(state, order.occurred_at, when, rules, amount_back, points_back + carried_back,
                       sum(line.amount_minor for line in lines.values()))
    kept = order._replace(lines=lines, points_used=order.points_used - given_back,
                          total_minor=max(order.total_minor - event.refund_minor, 0),
                          campaign_points=campaigns_kept, campaign_bonus=bonuses_kept,
                          carried=0 if settles else order.carried, paid_from=paid_left)
    if referral is not None:
        kept = kept._replace(referrer=None, referral_points=0)
    keep_order(state, order_id, kept._replace(expired=min(expired, kept.points_left())), when, rules)
    if paid_back:  # points paid with whose day has passed come back only to expire
        expiring = expire_due_lots(state, event, rules)
        if expiring:
            activity.points += sum(entry.points for entry in expiring if isinstance(entry, LedgerEntry))  # net
            outputs += expiring
    return Decision(state, tuple(outputs))


def _carried_back(part: int, carried: int, divisor: int) -> tuple[int, int]:
    """What taking back ``part`` of a point (of ``divisor``; negative: giving it back) from the member's
    ``carried`` part of one takes in whole points (-1, 0 or 1), and the part of a point left carried."""
    whole = -((carried - part) // divisor)
    return whole, carried - part + whole * divisor


def _carried_entry(state: MemberState, event: Return, part: int, whole: int, left: int, rules: CompiledProgram,
                   ) -> LedgerEntry:
    """The entry of the ``whole`` point (1, or -1 to give) that an order's carried ``part`` of one made with the
    member's other parts: one of the member's points, spendable already, rather than the order's."""
    divisor = state.carried_divisor
    detail = (f"Return from order {event.order_id}: {_carried_words(part, divisor, event.order_id)}, "
              f"and {'made' if whole > 0 else 'makes'} a whole point: 1 point "
              f"{'taken back' if whole > 0 else 'back'}, " + (f"{Fraction(left, divisor)} point carried" if left
                                                              else "nothing carried"))
    if whole > 0:
        return take_back(state, event, rules, LedgerReason.RETURN, whole, detail, None, suffix="return_carried",
                         order_id=event.order_id)
    return credit(state, event, rules, LedgerReason.RETURN, -whole, detail, suffix="return_carried",
                  order_id=event.order_id, earned=False)


def _carried_words(part: int, divisor: int, order_id: str) -> str:
    if part > 0:
        return f"the {Fraction(part, divisor)} point order {order_id} left over for later orders goes with it"
    return f"the {Fraction(-part, divisor)} point order {order_id} took from what earlier orders left comes back"


def _under_minimum(order: OrderRecord, lines_left: dict[str, LineRecord], rules: CompiledProgram) -> str | None:
    """Why what is kept of ``order`` earns no points, if it is under the minimum spend and still holds some."""
    if not any(line.points for line in lines_left.values()):
        return None
    partner = rules.partners.get(order.partner_id) if order.partner_id is not None else None
    minimum, text = ((rules.minimum_spend_minor, rules.minimum_spend_text) if partner is None
                     else (partner.partner.earn.minimum_spend_minor, partner.minimum_spend_text))
    kept = sum(line.amount_minor for line in lines_left.values())
    if kept >= minimum:
        return None
    return f"the {format_money(kept, rules.currency)} kept is under the {text} minimum for points"


def _refund_share(points: int, order: OrderRecord, event: Return, lines_left: dict[str, LineRecord]) -> int:
    """The part of ``points`` the order was paid with, still to give back, that this refund concerns: the
    refund's share of what is left of the order's total.

    The return that leaves nothing of the order (or refunds all that is left) takes all that is left.
    """
    if not points:
        return 0
    if event.refund_minor >= order.total_minor or not any(line.quantity for line in lines_left.values()):
        return points
    return points * max(event.refund_minor, 0) // order.total_minor
