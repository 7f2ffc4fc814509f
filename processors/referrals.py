"""Referrals: a friend who joins through a member and makes a first qualifying purchase rewards both.

The friend's enrolment names the referrer (``referred_by``; referring oneself
is refused at the edge). The friend's first purchase of at least
``minimum_purchase_minor`` earns the friend ``friend_points`` and sends the
referrer's partition a ``ReferralQualified`` event (the engine's own, with an
id derived from the purchase, so a replay is recognised as the same). There
the referrer earns ``referrer_points``, once per friend and at most
``cap_per_referrer`` times in ``cap_period_days``; a refusal says which rule
refused it.
"""

from __future__ import annotations

from datetime import timedelta

from processors.compiled import CompiledProgram
from processors.events import Purchase, ReferralQualified
from processors.money import format_money, format_points
from processors.outputs import REFERRAL_SUFFIX, Activity, Decision, FollowUp, LedgerReason, Output, Trigger
from processors.points import credit
from processors.refusals import refuse
from processors.state import MemberState


def friends_first_purchase(state: MemberState, event: Purchase, spent_minor: int, rules: CompiledProgram,
                           ) -> list[Output]:
    """The friend's reward and the referrer's follow-up, if this purchase qualifies the referral."""
    referral, referrer = rules.referral, state.referred_by
    if referral is None or referrer is None or spent_minor < referral.minimum_purchase_minor:
        return []
    state.referred_by = None
    event_id, member_id, when = event.event_id, event.member_id, event.occurred_at
    outputs: list[Output] = [FollowUp(ReferralQualified(f"{event_id}{REFERRAL_SUFFIX}", referrer, when, "engine",
                                                        member_id, event.order_id))]
    if referral.friend_points:
        outputs.append(credit(  # not the order's points: a return of the order leaves them
            state, event, rules, LedgerReason.REFERRAL, referral.friend_points,
            f"{format_points(referral.friend_points)} for a first purchase of "
            f"{format_money(spent_minor, rules.currency)} (order {event.order_id}) after joining through "
            "a friend's referral", suffix="referral_friend"))
    return outputs


def reward_referrer(state: MemberState, event: ReferralQualified, rules: CompiledProgram) -> Decision:
    referral, friend = rules.referral, event.friend_member_id
    if referral is None:
        return refuse(state, event, f"{rules.name} has no referral programme")
    if friend in state.referred_friends:
        return refuse(state, event, f"member {event.member_id} was already rewarded for referring {friend}")
    if referral.cap_per_referrer is not None:
        since = event.occurred_at - timedelta(days=referral.cap_period_days)
        recent = sum(1 for when in state.referred_friends.values() if when > since)
        if recent >= referral.cap_per_referrer:
            return refuse(state, event, f"member {event.member_id} has reached the cap of "
                                        f"{referral.cap_per_referrer} rewarded referrals in {referral.cap_period_days} "
                                        f"days; {friend} is not rewarded")
    state.referred_friends[friend] = event.occurred_at
    event_id, member_id, when = event.event_id, event.member_id, event.occurred_at
    outputs: list[Output] = [Activity(event_id, member_id, when, "referral_rewarded", None, None, None, 0,
                                      referral.referrer_points, None)]
    if referral.referrer_points:
        detail = f"{format_points(referral.referrer_points)} for referring {friend}, who made a first purchase"
        outputs += [
            credit(state, event, rules, LedgerReason.REFERRAL, referral.referrer_points, detail, suffix="referrer"),
            Trigger(f"{event_id}:referral_rewarded", member_id, event_id, when, "referral_rewarded",
                    f"Your friend made a first purchase: {format_points(referral.referrer_points)} for you!",
                    {"friend_member_id": friend}),
        ]
    return Decision(state, tuple(outputs))
