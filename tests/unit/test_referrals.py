"""Referrals: the friend's first qualifying purchase rewards the friend, and the referrer through the engine."""

from __future__ import annotations

from builders import Member, club, enrolled, kr, line

from processors.events import MemberEnrolled, ReferralQualified
from processors.outputs import FollowUp, LedgerReason
from processors.program import ReferralRewards

PROGRAM = club(welcome_bonus_points=0, referral=ReferralRewards(
    referrer_points=200, friend_points=50, minimum_purchase_minor=kr(300), cap_per_referrer=2, cap_period_days=30))


def friend_of(referrer: str, name: str = "fred") -> Member:
    friend = Member(PROGRAM, name)
    welcome = enrolled(name, friend.later())
    friend.apply(MemberEnrolled(welcome.event_id, name, welcome.occurred_at, "app", welcome.channel, None, referrer))
    return friend


def follow_ups(member: Member) -> list[ReferralQualified]:
    return [o.event for o in member.outputs if isinstance(o, FollowUp)]  # type: ignore[misc]


def test_the_first_qualifying_purchase_rewards_the_friend_and_tells_the_referrer() -> None:
    fred = friend_of("rita")

    fred.buy(line(kr(299)))  # under the minimum: nothing yet
    assert follow_ups(fred) == []
    order = fred.buy(line(kr(400)))
    fred.buy(line(kr(400)))  # only the first qualifying purchase counts

    assert [(e.reason, e.points) for e in fred.ledger[-3:]] == [
        (LedgerReason.PURCHASE, 40), (LedgerReason.REFERRAL, 50), (LedgerReason.PURCHASE, 40)]
    (told,) = follow_ups(fred)
    assert (told.member_id, told.friend_member_id, told.source) == ("rita", "fred", "engine")
    assert told.event_id == f"{order.outputs[0].event_id}:referral"  # type: ignore[union-attr]


def test_the_referrer_is_rewarded_once_per_friend_within_the_cap_with_a_reason_for_each_refusal() -> None:
    rita = Member(PROGRAM, "rita")
    rita.enrol()
    events = []
    for name in ("fred", "fia", "fox"):
        friend = friend_of("rita", name)
        friend.buy(line(kr(400)))
        events += follow_ups(friend)

    first = rita.apply(events[0])
    again = rita.apply(ReferralQualified("another-id", "rita", rita.later(), "engine", "fred", "o-9"))
    second = rita.apply(events[1])
    capped = rita.apply(events[2])

    assert first.refusal is None and second.refusal is None and rita.balance == 400
    assert again.refusal is not None and again.refusal.reason == "member rita was already rewarded for referring fred"
    assert capped.refusal is not None and "cap of 2 rewarded referrals in 30 days; fox is not rewarded" in (
        capped.refusal.reason)
    assert [t.kind for t in rita.triggers] == ["referral_rewarded"] * 2
