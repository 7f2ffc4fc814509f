"""Campaigns: extra points in a window, for the tiers, segments, stores and channels they target, within a budget."""

from __future__ import annotations

from datetime import UTC, datetime

from builders import T0, Member, club, enrolled, kr, line, new_id, purchase, returned

from processors.dates import epoch_ms
from processors.decide import decide
from processors.events import CampaignRelease, MemberEvent, MemberSegments
from processors.outputs import FollowUp, LedgerEntry, LedgerReason, Output, Trigger
from processors.program import Campaign, CampaignTarget, CatalogueReward, Program
from processors.state import CampaignBudget, MemberState

START = datetime(2024, 3, 1, tzinfo=UTC)
DOUBLE = Campaign(id="double", name="Double points week", starts=START, ends=datetime(2024, 3, 8, tzinfo=UTC),
                  multiplier_bp=20_000, member_budget_points=120)
STUDENTS = Campaign(id="students", name="Student bonus", starts=START, ends=datetime(2024, 4, 1, tzinfo=UTC),
                    target=CampaignTarget(segments=frozenset({"students"}), channels=frozenset({"pos"})),
                    bonus_points=25, minimum_spend_minor=kr(100))


def test_double_points_in_the_window_until_the_member_budget_is_spent_and_then_it_says_so() -> None:
    eva = Member(club(campaigns=(DOUBLE,)), "eva")
    eva.enrol()
    eva.buy(line(kr(500)), order_id="O1")  # 50 points and 50 extra
    eva.buy(line(kr(1_000)), order_id="O2")  # 100 points, 70 extra: the budget of 120 is spent
    eva.buy(line(kr(1_000)), order_id="O3")  # 100 points, nothing extra

    assert [(e.points, e.detail) for e in eva.ledger if e.reason is LedgerReason.CAMPAIGN] == [
        (50, "Double points week: x2 on 50 points on order O1"),
        (70, "Double points week: x2 on 100 points on order O2, up to the campaign's 120 points per member")]
    assert [t.kind for t in eva.triggers if t.kind.startswith("campaign")] == ["campaign_budget_spent"]
    assert eva.balance == 100 + 250 + 120


def test_outside_the_window_a_campaign_pays_nothing() -> None:
    eva = Member(club(campaigns=(DOUBLE,)), "eva", datetime(2024, 3, 7, 22, tzinfo=UTC))
    eva.enrol()
    eva.later(hours=2)  # 2024-03-08 01:00, after the end
    eva.buy(line(kr(500)))

    assert not [e for e in eva.ledger if e.reason is LedgerReason.CAMPAIGN]


def test_a_segment_campaign_pays_members_in_the_segment_at_the_targeted_channel_above_its_minimum() -> None:
    eva = Member(club(campaigns=(STUDENTS,)), "eva")
    eva.enrol()
    eva.buy(line(kr(500)))  # not a student yet
    eva.apply(MemberSegments(new_id("seg"), "eva", eva.later(), "crm", ("students", "north")))
    eva.buy(line(kr(99)))  # under the minimum
    eva.buy(line(kr(500)))  # 25 bonus points

    assert [e.points for e in eva.ledger if e.reason is LedgerReason.CAMPAIGN] == [25]


def test_a_return_takes_back_the_campaign_points_the_returned_lines_points_earned() -> None:
    eva = Member(club(campaigns=(DOUBLE,)), "eva")
    eva.enrol()
    eva.buy(line(kr(300), line_id="a"), line(kr(300), line_id="b"), order_id="O1")  # 60 points, 60 extra

    eva.give_back("O1", a=1)  # no refund said: the points still say what the line earned
    eva.give_back("O1", refund_minor=kr(300), b=1)

    assert [(e.reason.value, e.points) for e in eva.ledger] == [
        ("welcome", 100), ("purchase", 60), ("campaign", 60), ("return", -30), ("campaign", -30), ("return", -30),
        ("campaign", -30)]
    assert eva.ledger[4].detail == "Double points week: 30 points of order O1 taken back with its return"
    assert eva.balance == 100


def test_returning_the_line_that_earned_the_points_takes_back_all_their_campaign_points() -> None:
    eva = Member(club(campaigns=(DOUBLE,), welcome_bonus_points=0), "eva")
    eva.enrol()
    # A 1,000 kr dress earns 100 points and 100 extra; a 1,000 kr gift card earns nothing, extra or not.
    eva.buy(line(kr(1_000), "dresses", line_id="dress"), line(kr(1_000), "gift_card", line_id="card"), order_id="O1")

    eva.give_back("O1", refund_minor=kr(1_000), dress=1)

    assert [(e.reason.value, e.points) for e in eva.ledger][-2:] == [("return", -100), ("campaign", -100)]
    assert eva.balance == 0


def test_a_multiplied_line_takes_back_the_campaign_points_its_own_points_earned() -> None:
    eva = Member(club(campaigns=(Campaign(id="x2", name="Double", starts=START, ends=datetime(2024, 4, 1, tzinfo=UTC),
                                          multiplier_bp=20_000),),
                      category_multipliers_bp={"shoes": 15_000}, welcome_bonus_points=0), "eva")
    eva.enrol()
    # Shoes at x1.5 earn 150 of the 250 points, and so 150 of the 250 extra; the dress 100 and 100.
    eva.buy(line(kr(1_000), "shoes", line_id="shoes"), line(kr(1_000), "dresses", line_id="dress"), order_id="O1")

    eva.give_back("O1", refund_minor=kr(1_000), shoes=1)

    assert [(e.reason.value, e.points) for e in eva.ledger][-2:] == [("return", -150), ("campaign", -150)]
    assert eva.balance == 200


def test_a_bonus_stays_while_what_is_kept_qualifies_and_goes_whole_when_it_falls_under_the_minimum() -> None:
    eva = Member(club(campaigns=(STUDENTS,), welcome_bonus_points=0), "eva")
    eva.enrol()
    eva.apply(MemberSegments(new_id("seg"), "eva", eva.later(), "crm", ("students",)))
    # 150 kr earns 15 points and the 25 bonus (the campaign's minimum is 100 kr).
    eva.buy(line(kr(30), line_id="a"), line(kr(20), line_id="b"), line(kr(100), line_id="c"), order_id="O1")

    eva.give_back("O1", refund_minor=kr(30), a=1)  # 120 kr kept: still over 100 kr, the bonus stays
    eva.give_back("O1", refund_minor=kr(20), b=1)  # 100 kr kept: still the minimum
    eva.give_back("O1", refund_minor=kr(100), c=1)  # nothing kept: the bonus goes

    assert [(e.reason.value, e.points) for e in eva.ledger] == [
        ("purchase", 15), ("campaign", 25), ("return", -3), ("return", -2), ("return", -10), ("campaign", -25)]

    eva.buy(line(kr(60), line_id="d"), line(kr(60), line_id="e"), order_id="O2")  # 12 points and 25
    eva.give_back("O2", refund_minor=kr(60), d=1)  # 60 kr kept: under the minimum, the bonus goes whole

    entry = eva.ledger[-1]
    assert (entry.reason.value, entry.points) == ("campaign", -25)
    assert entry.detail == ("Student bonus: 25 points of order O2 taken back with its return, the bonus of 25 points "
                            "among them: what is kept of the order no longer qualifies for it")
    assert eva.balance == 6


LAUNCH = Campaign(id="launch", name="Launch bonus", starts=START, ends=datetime(2024, 4, 1, tzinfo=UTC),
                  bonus_points=60, budget_points=100)


LAUNCHING = club(campaigns=(LAUNCH,))


def run(states: dict[str, MemberState | CampaignBudget], *events: MemberEvent, program: Program = LAUNCHING,
        ) -> list[Output]:
    """Apply ``events``, then the engine's own claims, awards and releases, as they come back through Kafka."""
    outputs: list[Output] = []
    queue = list(events)
    for event in queue:  # grows while it is walked
        decision = decide(states.get(event.member_id), event, program, event.occurred_at)
        assert decision.refusal is None
        assert decision.state is not None
        states[event.member_id] = decision.state
        outputs += decision.outputs
        queue += [o.event for o in decision.outputs if isinstance(o, FollowUp)]
    return outputs


def campaign_credits(outputs: list[Output]) -> list[tuple[str, int]]:
    return [(e.member_id, e.points) for e in outputs
            if isinstance(e, LedgerEntry) and e.reason is LedgerReason.CAMPAIGN]


def claims_applied(*event_ids: str) -> dict[str, list[int]]:
    """A budget's applied ids, each received (and occurred) at ``T0``."""
    return {event_id: [epoch_ms(T0), epoch_ms(T0)] for event_id in event_ids}


def test_a_total_budget_is_shared_by_all_members_and_the_member_who_misses_out_is_told() -> None:
    states: dict[str, MemberState | CampaignBudget] = {}
    outputs = run(states, enrolled("ann"), enrolled("bob"),
                  purchase("ann", line(kr(100), line_id="a"), order_id="A1", event_id="buy-a"),
                  purchase("bob", line(kr(100)), order_id="B1", event_id="buy-b"))

    awarded = {(e.member_id, e.points, e.event_id) for e in outputs if isinstance(e, LedgerEntry)
               and e.reason is LedgerReason.CAMPAIGN}
    assert awarded == {("ann", 60, "buy-a:launch:campaign_award"), ("bob", 40, "buy-b:launch:campaign_award")}
    assert states["campaign:launch"] == CampaignBudget("launch", 100, claims_applied(
        "buy-a:launch:campaign_claim", "buy-b:launch:campaign_claim"))
    told = [(t.member_id, t.message) for t in outputs if isinstance(t, Trigger) and t.kind == "campaign_budget_spent"]
    assert told == [("campaign:launch", "Launch bonus has given all of its 100 points"),
                    ("bob", "Launch bonus has given all of its budget: order B1 got 40 points of 60 points")]


def test_points_a_return_takes_back_count_no_more_against_the_member_budget() -> None:
    eva = Member(club(campaigns=(DOUBLE,)), "eva")
    eva.enrol()
    eva.buy(line(kr(600), line_id="a"), line(kr(600), line_id="b"), order_id="O1")  # 120 extra: the budget
    eva.give_back("O1", refund_minor=kr(600), a=1)  # takes back 60 of them
    eva.buy(line(kr(1_000)), order_id="O2")  # 100 points: 60 extra, up to the budget again

    assert [(e.reason.value, e.points) for e in eva.ledger] == [
        ("welcome", 100), ("purchase", 120), ("campaign", 120), ("return", -60), ("campaign", -60), ("purchase", 100),
        ("campaign", 60)]
    assert eva.ledger[-1].detail.endswith("up to the campaign's 120 points per member")
    assert [t.kind for t in eva.triggers if t.kind.startswith("campaign")] == ["campaign_budget_spent"] * 2
    assert eva.state is not None and eva.state.campaign_points == {"double": 120}
    assert eva.state.orders["O1"].campaign_points == {"double": 60}


def test_a_return_gives_a_total_budget_back_for_the_next_member() -> None:
    states: dict[str, MemberState | CampaignBudget] = {}
    run(states, enrolled("ann"), enrolled("bob"),
        purchase("ann", line(kr(100), line_id="a"), order_id="A1", event_id="buy-a"))
    outputs = run(states, returned("ann", "A1", {"a": 1}, refund_minor=kr(100), event_id="ret-a"),
                  purchase("bob", line(kr(100)), order_id="B1", event_id="buy-b"))

    assert campaign_credits(outputs) == [("ann", -60), ("bob", 60)]  # not 40: ann's 60 went back to the budget
    assert [(o.event.event_id, o.event.points) for o in outputs
            if isinstance(o, FollowUp) and isinstance(o.event, CampaignRelease)] == [
        ("ret-a:launch:campaign_release", 60)]
    assert states["campaign:launch"] == CampaignBudget("launch", 60, claims_applied(
        "buy-a:launch:campaign_claim", "ret-a:launch:campaign_release", "buy-b:launch:campaign_claim"))


def test_an_award_for_an_order_returned_meanwhile_is_not_credited_and_goes_back_to_the_budget() -> None:
    states: dict[str, MemberState | CampaignBudget] = {}
    run(states, enrolled("ann"), enrolled("bob"))
    # The return comes before the award: the claim is still on its way to the campaign's key.
    outputs = run(states, purchase("ann", line(kr(100), line_id="a"), order_id="A1", event_id="buy-a"),
                  returned("ann", "A1", {"a": 1}, refund_minor=kr(100), event_id="ret-a"))
    outputs += run(states, purchase("bob", line(kr(100)), order_id="B1", event_id="buy-b"))

    assert campaign_credits(outputs) == [("bob", 60)]
    assert states["campaign:launch"] == CampaignBudget("launch", 60, claims_applied(
        "buy-a:launch:campaign_claim", "buy-a:launch:campaign_release", "buy-b:launch:campaign_claim"))
    ann = states["ann"]
    assert isinstance(ann, MemberState) and ann.campaign_points == {"launch": 0} and ann.balance == 100


def test_an_award_for_an_order_partly_returned_meanwhile_keeps_a_bonus_the_rest_still_qualifies_for() -> None:
    states: dict[str, MemberState | CampaignBudget] = {}
    run(states, enrolled("ann"), enrolled("bob"))
    # Half the order goes back before the award: what is kept still earns the bonus, all 60 of it.
    outputs = run(states, purchase("ann", line(kr(50), line_id="a"), line(kr(50), line_id="b"), order_id="A1",
                                   event_id="buy-a"),
                  returned("ann", "A1", {"a": 1}, refund_minor=kr(50), event_id="ret-a"))
    outputs += run(states, purchase("bob", line(kr(100)), order_id="B1", event_id="buy-b"))

    assert campaign_credits(outputs) == [("ann", 60), ("bob", 40)]
    # The rest of the order returned takes back the 60 credited, and the budget has them again.
    outputs = run(states, returned("ann", "A1", {"b": 1}, refund_minor=kr(50), event_id="ret-b"))
    assert campaign_credits(outputs) == [("ann", -60)]
    assert isinstance(budget := states["campaign:launch"], CampaignBudget) and budget.granted == 40


BOOST = Campaign(id="boost", name="Boost", starts=START, ends=datetime(2024, 4, 1, tzinfo=UTC), multiplier_bp=20_000,
                 budget_points=100)


def test_an_award_for_an_order_partly_returned_meanwhile_credits_what_follows_the_points_left() -> None:
    states: dict[str, MemberState | CampaignBudget] = {}
    program = club(campaigns=(BOOST,))
    run(states, enrolled("ann"), program=program)
    # 30 + 10 points, so 40 extra claimed; the 300 kr line goes back before the award: 10 of the 40 points are left.
    outputs = run(states, purchase("ann", line(kr(300), line_id="a"), line(kr(100), line_id="b"), order_id="A1",
                                   event_id="buy-a"),
                  returned("ann", "A1", {"a": 1}, refund_minor=kr(300), event_id="ret-a"), program=program)

    assert campaign_credits(outputs) == [("ann", 10)]
    [award] = [e for e in outputs if isinstance(e, LedgerEntry) and e.reason is LedgerReason.CAMPAIGN]
    assert award.detail == "Boost: 10 points of 40 points on order A1, for what is left of it after a return"
    assert isinstance(budget := states["campaign:boost"], CampaignBudget) and budget.granted == 10
    outputs = run(states, returned("ann", "A1", {"b": 1}, refund_minor=kr(100), event_id="ret-b"), program=program)
    assert campaign_credits(outputs) == [("ann", -10)]
    assert budget.granted == 0 and states["ann"].balance == 100  # type: ignore[union-attr]


def test_under_cap_at_zero_points_a_return_forgives_stay_spent_from_the_budget() -> None:
    eva = Member(club(campaigns=(DOUBLE,), return_after_spend="cap_at_zero", welcome_bonus_points=0,
                      rewards=(CatalogueReward(id="gift", name="A gift", kind="discount", points=240),)), "eva")
    eva.enrol()
    eva.buy(line(kr(1_200), line_id="a"), order_id="O1")  # 120 points and 120 extra: the member budget
    eva.redeem("gift", "r1")  # all 240 spent
    eva.give_back("O1", refund_minor=kr(1_200), a=1)  # nothing left to take back: all of it forgiven
    eva.buy(line(kr(500)), order_id="O2")

    assert [(e.reason.value, e.points) for e in eva.ledger][-3:] == [("return", 0), ("campaign", 0), ("purchase", 50)]
    assert eva.state is not None and eva.state.campaign_points == {"double": 120}  # still spent: O2 earns no extra
