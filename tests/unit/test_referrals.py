"""Referrals: the friend's first qualifying purchase rewards the friend, and the referrer through the engine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from builders import Member, club, enrolled, kr, line, returned

from processors.events import ClockTick, MemberEnrolled, ReferralMoved, ReferralQualified, ReferralRevoked
from processors.outputs import FollowUp, LedgerReason
from processors.program import CatalogueReward, Expiry, Program, ReferralRewards

PROGRAM = club(welcome_bonus_points=0, referral=ReferralRewards(
    referrer_points=200, friend_points=50, minimum_purchase_minor=kr(300), cap_per_referrer=2, cap_period_days=30))


def friend_of(referrer: str, name: str = "fred", program: Program = PROGRAM) -> Member:
    friend = Member(program, name)
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


def revokes(member: Member) -> list[ReferralRevoked]:
    return [o.event for o in member.outputs if isinstance(o, FollowUp) and isinstance(o.event, ReferralRevoked)]


def test_a_return_that_leaves_the_first_purchase_under_the_minimum_takes_the_friends_reward_back() -> None:
    fred = friend_of("rita")
    fred.buy(line(kr(200), line_id="1"), line(kr(200), line_id="2"), order_id="o-1")

    kept = fred.give_back("o-1", **{"1": 1})  # 200 kr left: under the 300 kr minimum
    assert kept.refusal is None
    assert [(e.reason, e.points, e.order_id) for e in fred.ledger[-2:]] == [
        (LedgerReason.RETURN, -20, "o-1"), (LedgerReason.REFERRAL, -50, "o-1")]
    assert "no purchase made since counts instead as the first purchase" in fred.ledger[-1].detail
    assert fred.balance == 20 and fred.state is not None and fred.state.referred_by == "rita"
    (revoked,) = revokes(fred)
    assert (revoked.member_id, revoked.friend_member_id, revoked.order_id, revoked.source) == (
        "rita", "fred", "o-1", "engine")
    assert fred.activity[-1].points == -70  # the return's net change, the referral included

    fred.buy(line(kr(300)), order_id="o-2")  # the next qualifying purchase rewards the referral again
    assert [(e.reason, e.points) for e in fred.ledger[-2:]] == [
        (LedgerReason.PURCHASE, 30), (LedgerReason.REFERRAL, 50)]
    again = follow_ups(fred)[-1]
    assert isinstance(again, ReferralQualified) and again.order_id == "o-2"


def test_a_return_that_leaves_the_first_purchase_over_the_minimum_keeps_the_referral() -> None:
    fred = friend_of("rita")
    fred.buy(line(kr(400), line_id="1"), line(kr(100), line_id="2"), order_id="o-1")

    fred.give_back("o-1", **{"2": 1})

    assert [e.reason for e in fred.ledger] == [LedgerReason.PURCHASE, LedgerReason.REFERRAL, LedgerReason.RETURN]
    assert revokes(fred) == [] and fred.state is not None and fred.state.referred_by is None


def test_the_referrer_gives_back_the_reward_and_the_friend_frees_a_place_under_the_cap() -> None:
    rita = Member(PROGRAM, "rita")
    rita.enrol()
    friends = {name: friend_of("rita", name) for name in ("fred", "fia", "fox")}
    for name, friend in friends.items():
        friend.buy(line(kr(400), line_id="1"), order_id=f"o-{name}")
    rita.apply(follow_ups(friends["fred"])[0])
    rita.apply(follow_ups(friends["fia"])[0])
    friends["fred"].give_back("o-fred", **{"1": 1})

    revoked = rita.apply(revokes(friends["fred"])[0])
    fox = rita.apply(follow_ups(friends["fox"])[0])  # two rewarded within 30 days, but fred's no longer counts

    assert revoked.refusal is None and fox.refusal is None
    assert [(e.reason, e.points) for e in rita.ledger] == [
        (LedgerReason.REFERRAL, 200), (LedgerReason.REFERRAL, 200), (LedgerReason.REFERRAL, -200),
        (LedgerReason.REFERRAL, 200)]
    assert rita.balance == 400 and rita.state is not None and set(rita.state.referred_friends) == {"fia", "fox"}
    assert [t.kind for t in rita.triggers] == ["referral_rewarded", "referral_rewarded", "referral_revoked",
                                               "referral_rewarded"]
    assert "fred returned order o-fred" in rita.ledger[2].detail


def test_a_revoked_referral_the_cap_never_rewarded_takes_nothing() -> None:
    rita = Member(PROGRAM, "rita")
    rita.enrol()

    decision = rita.apply(ReferralRevoked("r-1", "rita", rita.later(), "engine", "fred", "o-1"))

    assert decision.refusal is None and rita.balance == 0 and rita.ledger == []
    assert [(a.event_type, a.points) for a in rita.activity] == [("enrolled", 0), ("referral_revoked", 0)]


def test_under_cap_at_zero_a_referrer_who_spent_the_reward_gives_back_only_down_to_zero() -> None:
    program = PROGRAM.model_copy(update={"return_after_spend": "cap_at_zero", "rewards": (
        CatalogueReward(id="scarf", name="A scarf", kind="free_product", points=150),)})
    rita = Member(program, "rita")
    rita.enrol()
    rita.apply(ReferralQualified("q-1", "rita", rita.later(), "engine", "fred", "o-1"))
    assert rita.redeem("scarf", "red-1").refusal is None and rita.balance == 50

    rita.apply(ReferralRevoked("r-1", "rita", rita.later(), "engine", "fred", "o-1"))

    assert rita.balance == 0
    assert rita.ledger[-1].points == -50 and "150 points forgiven" in rita.ledger[-1].detail


def test_with_pending_points_both_rewards_wait_as_the_first_purchase_does() -> None:
    program = PROGRAM.model_copy(update={"pending_days": 14, "rewards": (
        CatalogueReward(id="scarf", name="A scarf", kind="free_product", points=90),)})
    fred = Member(program, "fred")
    welcome = enrolled("fred", fred.later())
    fred.apply(MemberEnrolled(welcome.event_id, "fred", welcome.occurred_at, "app", welcome.channel, None, "rita"))
    fred.buy(line(kr(500)))  # 50 points and the friend's 50, both pending for 14 days
    rita = Member(program, "rita")
    rita.enrol()
    rita.apply(follow_ups(fred)[0])

    pending_until = fred.ledger[0].available_at
    assert pending_until is not None
    assert [e.available_at for e in fred.ledger + rita.ledger] == [pending_until] * 3
    assert fred.redeem("scarf", "r-1").refusal is not None and rita.redeem("scarf", "r-2").refusal is not None
    fred.later(days=15)
    rita.later(days=15)
    assert fred.redeem("scarf", "r-3").refusal is None and rita.redeem("scarf", "r-4").refusal is None


def test_a_return_hands_the_referral_on_to_a_later_purchase_that_qualifies_too() -> None:
    fred = friend_of("rita")
    fred.buy(line(kr(400), line_id="1"), order_id="o-1")  # the first qualifying purchase
    fred.buy(line(kr(100), line_id="1"), order_id="o-2")  # under the minimum
    fred.buy(line(kr(500), line_id="1"), order_id="o-3")  # qualifies too

    fred.give_back("o-1", **{"1": 1})  # o-3 carries the referral now: nothing is taken back

    assert [(e.reason, e.points) for e in fred.ledger] == [
        (LedgerReason.PURCHASE, 40), (LedgerReason.REFERRAL, 50), (LedgerReason.PURCHASE, 10),
        (LedgerReason.PURCHASE, 50), (LedgerReason.RETURN, -40)]
    assert revokes(fred) == []
    assert fred.state is not None and fred.state.orders["o-3"].referrer == "rita"

    fred.give_back("o-3", **{"1": 1})  # and no purchase after it qualifies: now the referral is undone

    assert [(e.reason, e.points, e.order_id) for e in fred.ledger[-2:]] == [
        (LedgerReason.RETURN, -50, "o-3"), (LedgerReason.REFERRAL, -50, "o-3")]
    assert [revoked.order_id for revoked in revokes(fred)] == ["o-3"]
    assert fred.state.referred_by == "rita"


def test_with_pending_points_a_referral_handed_on_waits_on_the_later_purchase_for_both() -> None:
    program = PROGRAM.model_copy(update={"pending_days": 14, "rewards": (
        CatalogueReward(id="scarf", name="A scarf", kind="free_product", points=200),)})
    fred, rita = friend_of("rita", program=program), Member(program, "rita")
    rita.enrol()
    fred.buy(line(kr(400), line_id="1"), order_id="o-1")  # qualifies: 40 points and the friend's 50
    first = fred.now
    fred.later(days=5)
    fred.buy(line(kr(500), line_id="1"), order_id="o-3")  # qualifies too: 50 points
    rita.later(days=1)
    rita.apply(follow_ups(fred)[0])  # 200 points, pending as long as o-1's

    fred.give_back("o-1", **{"1": 1})
    (moved,) = [event for event in follow_ups(fred) if isinstance(event, ReferralMoved)]
    rita.apply(moved)

    window, later = timedelta(days=14), first + timedelta(days=5, hours=1)
    assert (moved.order_id, moved.purchased_at) == ("o-3", later)
    assert [(e.reason, e.points, e.balance_after, e.available_at) for e in fred.ledger[-3:]] == [
        (LedgerReason.RETURN, -40, 100, first + window),
        (LedgerReason.PENDING_MOVED, 50, 150, later + window), (LedgerReason.PENDING_MOVED, -50, 100, first + window)]
    assert [e.entry_id.rsplit(":", 1)[1] for e in fred.ledger[-2:]] == [
        "referral_friend_moved_to", "referral_friend_moved_from"]
    assert [(e.reason, e.points, e.balance_after, e.available_at) for e in rita.ledger[-2:]] == [
        (LedgerReason.PENDING_MOVED, 200, 400, later + window), (LedgerReason.PENDING_MOVED, -200, 200, first + window)]
    assert rita.state is not None and rita.state.referred_friends["fred"].qualified_at == later
    assert fred.state is not None and fred.state.lifetime_points == 50 + 50 and rita.state.lifetime_points == 200

    rita.now = fred.now = first + window + timedelta(days=1)  # o-1's window is over, o-3's is not
    assert rita.redeem("scarf", "r-1").refusal is not None
    rita.now = later + window + timedelta(hours=1)
    assert rita.redeem("scarf", "r-2").refusal is None


def test_a_referral_handed_on_expires_with_the_later_purchases_points() -> None:
    program = PROGRAM.model_copy(update={"expiry": Expiry(at="month_end")})
    fred = friend_of("rita", program=program)
    fred.now = datetime(2026, 3, 31, 9, tzinfo=UTC)
    fred.buy(line(kr(400), line_id="1"), order_id="o-1")  # March: 40 points and the friend's 50
    fred.now = datetime(2026, 4, 1, 8, tzinfo=UTC)
    fred.buy(line(kr(500), line_id="1"), order_id="o-3")  # April: 50 points
    assert fred.state is not None and fred.state.lots == {"2026-04-01": 90, "2026-05-01": 50}

    fred.give_back("o-1", **{"1": 1})

    assert fred.state.lots == {"2026-05-01": 100}
    assert [e.reason for e in fred.ledger[-1:]] == [LedgerReason.RETURN]  # nothing is pending: no entries


def fred_after_month_end() -> Member:
    """Fred, referred by rita, buys o-1 on 31 March (40 points and the friend's 50, expiring as April starts)
    and o-3 on 1 April (50 points, expiring as May starts); the 1 April tick expires March's 90."""
    program = club(welcome_bonus_points=0, expiry=Expiry(at="month_end"), referral=ReferralRewards(
        referrer_points=200, friend_points=50, minimum_purchase_minor=kr(300)))
    fred = Member(program, "fred")
    fred.now = datetime(2026, 3, 31, 8, tzinfo=UTC)
    welcome = enrolled("fred", fred.now)
    fred.apply(MemberEnrolled(welcome.event_id, "fred", fred.now, "app", welcome.channel, None, "rita"))
    fred.now = datetime(2026, 3, 31, 9, tzinfo=UTC)
    fred.buy(line(kr(400), line_id="1"), order_id="o-1")
    fred.now = datetime(2026, 4, 1, 8, tzinfo=UTC)
    fred.buy(line(kr(500), line_id="1"), order_id="o-3")
    fred.apply(ClockTick("tick:fred:2026-04-01", "fred", fred.later(), "scheduler"))
    assert fred.balance == 50
    return fred


def test_a_referral_reward_that_expired_is_not_taken_back_again_after_it_was_handed_on() -> None:
    """o-1 is returned: the referral is handed on to o-3, without the 50 points that expired. o-3 is returned
    too: the referral is undone, and nothing is taken twice. Fred never spent a point: he ends at 0."""
    fred = fred_after_month_end()

    fred.give_back("o-1", **{"1": 1})  # o-3 carries the referral now
    fred.give_back("o-3", **{"1": 1})  # and the referral is undone

    assert [e.balance_after for e in fred.ledger if e.balance_after < 0] == []
    assert fred.balance == 0


def test_a_late_return_dated_before_expiry_leaves_the_same_balance_as_if_it_had_come_in_time() -> None:
    """The return of o-1 was made on 31 March, before the points expired, and reaches the engine after the tick
    and o-3: fred ends at 0 after returning o-3, as he would had it come in time."""
    fred = fred_after_month_end()

    late = fred.apply(returned("fred", "o-1", {"1": 1}, at=datetime(2026, 3, 31, 20, tzinfo=UTC)))
    assert late.refusal is None
    fred.give_back("o-3", **{"1": 1})

    assert fred.balance == 0


def test_a_referrers_reward_that_expired_is_not_taken_back_again_when_the_referral_is_revoked() -> None:
    """Rita's 200 points for referring fred expire at the month's end; then fred returns the purchase that
    rewarded them. The ReferralRevoked does not take the 200 a second time: rita never spent a point."""
    program = club(welcome_bonus_points=0, expiry=Expiry(at="month_end"), referral=ReferralRewards(
        referrer_points=200, friend_points=50, minimum_purchase_minor=kr(300)))
    rita = Member(program, "rita")
    rita.now = datetime(2026, 3, 30, 9, tzinfo=UTC)
    rita.enrol()
    rita.apply(ReferralQualified("q-1", "rita", datetime(2026, 3, 31, 9, tzinfo=UTC), "engine", "fred", "o-1"))
    assert rita.balance == 200
    rita.apply(ClockTick("tick:rita:2026-04-01", "rita", datetime(2026, 4, 1, 6, tzinfo=UTC), "scheduler"))
    assert rita.balance == 0

    rita.apply(ReferralRevoked("r-1", "rita", datetime(2026, 4, 2, 9, tzinfo=UTC), "engine", "fred", "o-1"))

    assert rita.balance == 0


def test_a_referrers_reward_that_lapsed_with_inactivity_is_not_taken_back_again_when_the_referral_is_revoked() -> None:
    """Rita's 200 points for referring fred lapse after a month without activity; then fred's return of the
    purchase that rewarded them, made in time but arriving late, revokes the referral: nothing is taken twice."""
    program = club(welcome_bonus_points=0, expiry=Expiry(inactive_months=1), referral=ReferralRewards(
        referrer_points=200, friend_points=50, minimum_purchase_minor=kr(300)))
    rita = Member(program, "rita")
    rita.now = datetime(2026, 3, 1, 9, tzinfo=UTC)
    rita.enrol()
    rita.apply(ReferralQualified("q-1", "rita", datetime(2026, 3, 2, 9, tzinfo=UTC), "engine", "fred", "o-1"))
    rita.apply(ClockTick("tick:rita:2026-04-03", "rita", datetime(2026, 4, 3, 6, tzinfo=UTC), "scheduler"))
    assert rita.balance == 0 and rita.ledger[-1].reason is LedgerReason.EXPIRY

    revoked = rita.apply(ReferralRevoked("r-1", "rita", datetime(2026, 3, 30, 9, tzinfo=UTC), "engine", "fred", "o-1"))

    assert revoked.refusal is None and rita.balance == 0
    assert "200 points of them had expired already, so not taken back" in rita.ledger[-1].detail
