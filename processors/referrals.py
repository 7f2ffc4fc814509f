"""Referrals: a friend who joins through a member and makes a first qualifying purchase rewards both.

The friend's enrolment names the referrer (``referred_by``; referring oneself
is refused at the edge). The friend's first purchase of at least
``minimum_purchase_minor`` earns the friend ``friend_points`` and sends the
referrer's partition a ``ReferralQualified`` event (the engine's own, with an
id derived from the purchase, so a replay is recognised as the same). There
the referrer earns ``referrer_points``, once per friend and at most
``cap_per_referrer`` times in ``cap_period_days``; a refusal says which rule
refused it.

Both rewards wait on that purchase: in a program with pending points they
can be spent when its points can. A return that leaves the order short of the
minimum (or returns all of it) hands the referral on to the friend's next
purchase that qualifies too, if there is one: both rewards then wait on that
purchase's return window, and the referrer learns of it by a ``ReferralMoved``.
Otherwise it takes the friend's reward back, as a return takes back points,
and sends the referrer a ``ReferralRevoked`` that takes back theirs and frees
the friend's place under the cap. The friend's next qualifying purchase rewards the referral again.
"""

from __future__ import annotations

from datetime import timedelta

from processors.compiled import CompiledProgram
from processors.events import Purchase, ReferralMoved, ReferralQualified, ReferralRevoked, Return
from processors.money import format_money, format_points
from processors.outputs import (
    MOVED_SUFFIX,
    REFERRAL_SUFFIX,
    REVOKED_SUFFIX,
    Activity,
    Decision,
    FollowUp,
    LedgerReason,
    Output,
    Trigger,
)
from processors.points import TakenBack, available_at, credit, move_earned, take_back
from processors.refusals import refuse
from processors.state import LineRecord, MemberState, OrderRecord, ReferredFriend


def friends_first_purchase(state: MemberState, event: Purchase, spent_minor: int, rules: CompiledProgram,
                           ) -> list[Output]:
    """The friend's reward and the referrer's follow-up, if this purchase qualifies the referral.

    The order, kept already, notes the referrer and the friend's points, for ``referral_returned``.
    """
    referral, referrer = rules.referral, state.referred_by
    if referral is None or referrer is None or spent_minor < referral.minimum_purchase_minor:
        return []
    state.referred_by = None
    event_id, member_id, when = event.event_id, event.member_id, event.occurred_at
    state.orders[event.order_id] = state.orders[event.order_id]._replace(referrer=referrer,
                                                                         referral_points=referral.friend_points)
    outputs: list[Output] = [FollowUp(ReferralQualified(f"{event_id}{REFERRAL_SUFFIX}", referrer, when, "engine",
                                                        member_id, event.order_id))]
    if referral.friend_points:
        outputs.append(credit(  # kept apart from the order's own points: see referral_returned
            state, event, rules, LedgerReason.REFERRAL, referral.friend_points,
            f"{format_points(referral.friend_points)} for a first purchase of "
            f"{format_money(spent_minor, rules.currency)} (order {event.order_id}) after joining through "
            "a friend's referral", suffix="referral_friend", order_id=event.order_id,
            available_at=available_at(when, rules)))
    return outputs


def referral_returned(state: MemberState, event: Return, order: OrderRecord, lines_left: dict[str, LineRecord],
                      rules: CompiledProgram, expired: int) -> TakenBack | None:
    """Undo the referral ``order`` qualified, if the return leaves it short of the minimum or returns all of it
    and no later purchase qualifies instead (then that purchase carries it); of the friend's reward, the
    ``expired`` points of the order are not taken back (see ``returns``)."""
    referrer = order.referrer
    assert referrer is not None
    minimum = rules.referral.minimum_purchase_minor if rules.referral is not None else 0
    if _qualifies(lines_left, minimum):
        return None
    later = next((order_id for order_id, other in state.orders.items()
                  if other.occurred_at >= order.occurred_at and order_id != event.order_id
                  and _qualifies(other.lines, minimum)), None)
    event_id, member_id, when, order_id = event.event_id, event.member_id, event.occurred_at, event.order_id
    if later is not None:  # the reward's points that expired already stay gone: the later order carries the rest
        gone = min(order.referral_points, expired)
        handed = order.referral_points - gone
        instead = state.orders[later]
        state.orders[later] = instead._replace(referrer=referrer, referral_points=handed)
        outputs: list[Output] = list(move_earned(
            state, event, rules, handed, order.occurred_at, instead.occurred_at,
            f"Order {order_id} was returned, and order {later}, bought since, counts instead as the first purchase "
            f"after joining through a friend's referral: its {format_points(handed)} now wait on "
            f"order {later}'s return window", suffix="referral_friend_moved", order_id=later))
        outputs.append(FollowUp(ReferralMoved(f"{event_id}{MOVED_SUFFIX}", referrer, when, "engine", member_id, later,
                                              instead.occurred_at)))
        return TakenBack(outputs, 0, gone)
    state.referred_by = referrer  # the next qualifying purchase rewards the referral again
    outputs = [FollowUp(ReferralRevoked(f"{event_id}{REVOKED_SUFFIX}", referrer, when, "engine", member_id, order_id))]
    owed = order.referral_points
    if not owed:
        return TakenBack(outputs, 0)
    state.lifetime_points -= owed
    gone = min(owed, expired)
    entry = take_back(state, event, rules, LedgerReason.REFERRAL, owed,
                      f"Order {order_id} was returned, and no purchase made since counts instead as the first "
                      f"purchase after joining through a friend's referral: its {format_points(owed)} taken back",
                      order.occurred_at,
                      suffix="referral_friend_revoked", order_id=order_id, expired=gone)
    return TakenBack([entry, *outputs], -entry.points, gone)


def _qualifies(lines: dict[str, LineRecord], minimum: int) -> bool:
    """Whether what is left of an order qualifies a referral: its qualifying spend, and not all returned."""
    left = lines.values()
    return sum(line.amount_minor for line in left) >= minimum and any(line.quantity for line in left)


def reward_referrer(state: MemberState, event: ReferralQualified, rules: CompiledProgram) -> Decision:
    referral, friend = rules.referral, event.friend_member_id
    if referral is None:
        return refuse(state, event, f"{rules.name} has no referral programme")
    if friend in state.referred_friends:
        return refuse(state, event, f"member {event.member_id} was already rewarded for referring {friend}")
    if referral.cap_per_referrer is not None:
        since = event.occurred_at - timedelta(days=referral.cap_period_days)
        recent = sum(1 for referred in state.referred_friends.values() if referred.qualified_at > since)
        if recent >= referral.cap_per_referrer:
            return refuse(state, event, f"member {event.member_id} has reached the cap of "
                                        f"{referral.cap_per_referrer} rewarded referrals in {referral.cap_period_days} "
                                        f"days; {friend} is not rewarded", final=True)
    state.referred_friends[friend] = ReferredFriend(event.occurred_at, referral.referrer_points)
    event_id, member_id, when = event.event_id, event.member_id, event.occurred_at
    outputs: list[Output] = [Activity(event_id, member_id, when, "referral_rewarded", None, None, None, 0,
                                      referral.referrer_points, None)]
    if referral.referrer_points:
        detail = f"{format_points(referral.referrer_points)} for referring {friend}, who made a first purchase"
        outputs += [
            credit(state, event, rules, LedgerReason.REFERRAL, referral.referrer_points, detail, suffix="referrer",
                   available_at=available_at(when, rules)),
            Trigger(f"{event_id}:referral_rewarded", member_id, event_id, when, "referral_rewarded",
                    f"Your friend made a first purchase: {format_points(referral.referrer_points)} for you!",
                    {"friend_member_id": friend}),
        ]
    return Decision(state, tuple(outputs))


def revoke_referral(state: MemberState, event: ReferralRevoked, rules: CompiledProgram) -> Decision:
    """The friend returned the order that rewarded this member: take the reward back, free the friend's place."""
    friend, event_id, member_id, when = event.friend_member_id, event.event_id, event.member_id, event.occurred_at
    referred = state.referred_friends.pop(friend, None)
    if referred is None:  # the cap refused that reward: there is nothing to take back
        return Decision(state, (Activity(event_id, member_id, when, "referral_revoked", None, None, None, 0, 0,
                                         event.order_id),))
    owed = _rewarded(referred, rules)
    state.lifetime_points -= owed
    outputs: list[Output] = []
    taken = 0
    if owed:
        # A reward whose day a tick has passed (points expiring by age) may have expired, and inactivity may have
        # taken it: not taken twice.
        by_age = rules.lots and rules.expires_on(referred.qualified_at) <= state.last_tick_on
        gone = owed if by_age else min(referred.expired, owed)
        entry = take_back(state, event, rules, LedgerReason.REFERRAL, owed,
                          f"{friend} returned order {event.order_id}, the purchase that rewarded referring them: "
                          f"{format_points(owed)} taken back", referred.qualified_at, suffix="referrer_revoked",
                          expired=gone)
        taken = -entry.points
        outputs += [
            entry,
            Trigger(f"{event_id}:referral_revoked", member_id, event_id, when, "referral_revoked",
                    f"Your friend returned the purchase that rewarded referring them, so the "
                    f"{format_points(owed)} were taken back.", {"friend_member_id": friend}),
        ]
    outputs.insert(0, Activity(event_id, member_id, when, "referral_revoked", None, None, None, 0, -taken,
                               event.order_id))
    return Decision(state, tuple(outputs))


def move_referral(state: MemberState, event: ReferralMoved, rules: CompiledProgram) -> Decision:
    """The friend returned the order that rewarded this member, and a purchase made since qualifies instead: the
    reward now waits on that purchase's return window, and the cap counts it by that purchase."""
    friend = event.friend_member_id
    referred = state.referred_friends.get(friend)
    if referred is None:  # the cap refused that reward: nothing waits
        return Decision(state)
    state.referred_friends[friend] = referred._replace(qualified_at=event.purchased_at)
    points = _rewarded(referred, rules)
    return Decision(state, tuple(move_earned(
        state, event, rules, points, referred.qualified_at, event.purchased_at,
        f"{friend} returned the purchase that rewarded referring them, and order {event.order_id}, bought since, "
        f"counts instead: the {format_points(points)} now wait on its return window", suffix="referrer_moved")))


def _rewarded(referred: ReferredFriend, rules: CompiledProgram) -> int:
    """The points referring this friend gave; for a reward from before the engine kept them, the program's."""
    if referred.points is not None:
        return referred.points
    return rules.referral.referrer_points if rules.referral is not None else 0
