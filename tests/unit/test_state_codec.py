"""The members table's storage format gives back exactly the state it was given."""

from __future__ import annotations

import functools
from dataclasses import MISSING, fields

import orjson
import pytest
from builders import Member, club, kr, line, purchase
from hypothesis import given, settings
from hypothesis import strategies as st

from processors.decide import decide
from processors.events import Channel, MemberEnrolled, MembershipPaid, ReferralQualified
from processors.program import CatalogueReward, Expiry, Membership, ReferralRewards, TierPolicy
from processors.state import CampaignBudget, LineRecord, MemberState, OrderRecord, ReferredFriend
from schemas.codec import AvroCodec
from schemas.registry import EmbeddedRegistry
from streams.demo_feed import synthetic_day
from streams.offline import member_events
from streams.program_file import load_program
from streams.state_codec import StateEncoder, decode_state, encode_state


def demo_states() -> list[MemberState]:
    program = load_program(None)
    feed = synthetic_day(40, 2_000)
    states: dict[str, MemberState] = {}
    for event in member_events(AvroCodec(EmbeddedRegistry()), feed.base + feed.day):
        state = decide(states.get(event.member_id), event, program, event.occurred_at).state
        if state is not None:
            states[event.member_id] = state
    return list(states.values())


def test_every_state_of_a_demo_day_comes_back_equal() -> None:
    states = demo_states()
    assert any(state.orders and state.seen_events for state in states)
    for state in states:
        assert decode_state(encode_state(state)) == state


def test_the_encoder_that_keeps_encoded_orders_writes_the_same_bytes_and_sees_a_new_order() -> None:
    encoder = StateEncoder(orders_kept=5)  # small: the kept encodings are also dropped and made again
    states = demo_states()
    for _ in range(2):  # the second time, orders come from what was kept
        assert [encoder.encode(state) for state in states] == [encode_state(state) for state in states]
    state = next(state for state in states if state.orders)
    order_id, order = next(iter(state.orders.items()))
    state.orders[order_id] = order._replace(campaign_points={**order.campaign_points, "double": 7})
    assert decode_state(encoder.encode(state)) == state


@functools.cache
def busy_state() -> bytes:
    return encode_state(next(state for state in demo_states() if len(state.orders) > 3))


@settings(deadline=None)  # the first example makes the demo state
@given(st.lists(st.tuples(st.sampled_from(["add", "replace", "drop", "prune", "reload"]), st.integers(0, 9)),
                max_size=30))
def test_whatever_happens_to_a_members_orders_the_kept_encoding_follows(changes: list[tuple[str, int]]) -> None:
    state = decode_state(busy_state())  # a fresh copy
    encoder = StateEncoder()
    added = 0
    for change, n in changes:
        orders, ids = state.orders, list(state.orders)
        if change == "add":  # a purchase
            added += 1
            orders[f"new-{added}"] = OrderRecord(state.last_activity_at, {"1": LineRecord(1, n, n)})
        elif change == "replace" and ids:  # a return keeps a new record in the same place
            orders[ids[n % len(ids)]] = orders[ids[n % len(ids)]]._replace(total_minor=n)
        elif change == "drop" and ids:
            del orders[ids[n % len(ids)]]
        elif change == "prune":  # orders past the return window go, the rest stay in order
            state.orders = {order_id: order for order_id, order in orders.items() if order_id not in ids[:n]}
        elif change == "reload":  # read back from the table: the same orders, other records
            state = decode_state(encode_state(state))
        assert encoder.encode(state) == encode_state(state)


def test_a_state_in_an_unknown_format_is_refused_with_what_to_do() -> None:
    data = orjson.loads(encode_state(demo_states()[0]))
    data[0] = 99
    with pytest.raises(ValueError, match=r"format 99.*rebuild the table"):
        decode_state(orjson.dumps(data))


def test_point_lots_visits_points_a_paid_membership_and_a_redemption_come_back_equal() -> None:
    tiers = (TierPolicy(name="Member"), TierPolicy(name="Gold", qualifying_visits=10, qualifying_points=900))
    plus = Membership(id="plus", name="Plus", fee_minor=kr(99), tier="Gold")
    drink = CatalogueReward(id="drink", name="A drink", kind="free_product", points=30)
    ada = Member(club(expiry=Expiry(after_days=30), tiers=tiers, memberships=(plus,), rewards=(drink,)), "ada")
    ada.enrol()
    ada.buy(line(kr(500)), points_used=20)
    ada.apply(MembershipPaid("fee-1", "ada", ada.later(), "app", "plus", kr(99), "SEK"))
    ada.redeem("drink", "R1")
    assert ada.state is not None and ada.state.lots and next(iter(ada.state.orders.values())).points_used == 20
    assert ada.state.redemptions["R1"].spent_from
    assert ada.state.visits_by_month and ada.state.points_by_month and ada.state.tier_floor_until is not None

    assert decode_state(encode_state(ada.state)) == ada.state


def test_a_referral_kept_by_the_friends_order_and_by_the_referrer_comes_back_equal() -> None:
    program = club(referral=ReferralRewards(referrer_points=200, friend_points=50))
    fred, rita = Member(program, "fred"), Member(program, "rita")
    rita.enrol()
    fred.apply(MemberEnrolled("enrol-fred", "fred", fred.later(), "app", Channel.APP, None, "rita"))
    fred.buy(line(kr(400)), order_id="o-1")
    rita.apply(ReferralQualified("q-1", "rita", rita.later(), "engine", "fred", "o-1"))
    assert fred.state is not None and fred.state.orders["o-1"].referrer == "rita"
    assert rita.state is not None and rita.state.referred_friends["fred"].points == 200

    assert decode_state(encode_state(fred.state)) == fred.state
    assert decode_state(encode_state(rita.state)) == rita.state


def test_a_referrer_whose_state_kept_no_points_for_a_friend_reads_them_as_not_known() -> None:
    program = club(referral=ReferralRewards(referrer_points=200, friend_points=50))
    rita = Member(program, "rita")
    rita.enrol()
    rita.apply(ReferralQualified("q-1", "rita", rita.later(), "engine", "fred", "o-1"))
    assert rita.state is not None
    older = orjson.loads(encode_state(rita.state))[:43]  # written before the points per friend (and later fields)

    assert decode_state(orjson.dumps(older)).referred_friends == {
        "fred": ReferredFriend(rita.state.referred_friends["fred"].qualified_at, None)}


def test_a_state_written_before_the_newest_fields_reads_with_their_defaults() -> None:
    state = demo_states()[0]
    newest = [f for f in fields(MemberState)][-11:]  # point lots, visits, points, tier floors, campaigns, changes
    for f in newest:
        setattr(state, f.name, f.default_factory() if f.default_factory is not MISSING else f.default)
    older = orjson.loads(encode_state(state))[:-len(newest)]

    assert decode_state(orjson.dumps(older)) == state


def test_a_campaign_budget_comes_back_equal() -> None:
    budget = CampaignBudget("launch", 250, {"buy-1:launch:campaign_claim": [1_709_294_400_000, 1_709_294_300_000]})

    assert decode_state(encode_state(budget)) == budget


def test_ids_kept_before_their_events_times_were_read_as_repeats_whatever_the_time() -> None:
    anna = Member(club())
    anna.enrol()
    anna.apply(purchase("anna", line(kr(100)), at=anna.later(), event_id="receipt-1"))
    assert anna.state is not None
    data = orjson.loads(encode_state(anna.state))
    data[0] = 3
    data[7] = {event_id: received for event_id, (received, _) in data[7].items()}  # as format 3 kept them
    budget = ["campaign", 1, "launch", 250, {"buy-1:launch:campaign_claim": 1_709_294_400_000}]

    older = decode_state(orjson.dumps(data))

    assert isinstance(older, MemberState) and older.seen_events["receipt-1"][1] == 0
    assert decode_state(orjson.dumps(budget)) == CampaignBudget(
        "launch", 250, {"buy-1:launch:campaign_claim": [1_709_294_400_000, 0]})
    anna.state = older
    again = anna.apply(purchase("anna", line(kr(300)), at=anna.later(days=1), event_id="receipt-1"))
    assert again.duplicate and again.refusal is None


def test_an_order_kept_in_format_2_has_its_campaign_points_as_of_no_known_campaign() -> None:
    state = next(state for state in demo_states() if len(state.orders) > 1)
    data = orjson.loads(encode_state(state))
    data[0] = 2
    first, *others = data[8].values()  # the orders
    first[5] = 30
    for order in others:
        order[5] = 0

    orders = decode_state(orjson.dumps(data)).orders

    assert [order.campaign_points for order in orders.values()] == [{"": 30}] + [{}] * len(others)
