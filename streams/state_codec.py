"""How the members table stores a member's state: a versioned, compact JSON array.

The table and its changelog are the worker's private storage, read back only by
the worker; every public topic carries Avro. A state is written each time a
batch touches its member, and a busy member's state in Avro (with its many
timestamps) took ~150 µs to encode; as orjson with times in epoch milliseconds
it takes a fraction of that. The first element is the format's version, so a
later engine can still read what an earlier one wrote: format 1 (before
carried remainders, stamp cards, social points, redemptions, referrals,
challenges, birthdays, expiry and tier reviews) reads as a state with none of them;
in formats 1 and 2 an order's campaign points are one number, which reads as
points of no known campaign; before format 4 an applied event's id was kept
with its time received alone, and reads with its event's time unknown. Within a format, fields are only appended, and a
shorter state gets the defaults of the fields it lacks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from processors.dates import epoch_ms, from_epoch_ms
from processors.state import CampaignBudget, LineRecord, MemberState, OrderRecord, RedemptionRecord, ReferredFriend

FORMAT_VERSION = 4
_BUDGET = "campaign"  # a campaign's budget, under its own key, starts with this instead of a version
# Fields are only ever appended: a state written before a field existed reads with its default.
_FORMAT_1_FIELDS = 10
_ADDED_DEFAULTS: list[object] = [0, 0, {}, {}, {}, {}, None, {}, [], {}, None, 0, False, "", 0, {}, "",
                                 {}, {}, None, None, None, False, [], {}, 0, None, False, {}, [], [], None, {}, 0, "",
                                 0, {}]


def _order_value(order: OrderRecord) -> list[Any]:
    """An order's fields in order; the 0 stands where its total when bought was kept, no longer read."""
    return [epoch_ms(order.occurred_at), {line_id: list(line) for line_id, line in order.lines.items()},
            order.partner_id, order.points_used, order.total_minor, order.campaign_points, order.referrer,
            order.referral_points, 0, order.expired, order.campaign_bonus, order.bought_points,
            order.carried, order.paid_from]


class StateEncoder:
    """Encodes states as :func:`encode_state` does, each order only once.

    A busy member keeps dozens of orders for returns, and most of a state's
    encoding went into them; an order record never changes once made (a return
    keeps a new one), so its encoding is kept and recognised by identity.
    """

    def __init__(self, orders_kept: int = 250_000) -> None:
        self._orders: dict[int, tuple[OrderRecord, orjson.Fragment]] = {}
        self._orders_kept = orders_kept

    def _order(self, order: OrderRecord) -> orjson.Fragment:
        kept = self._orders.get(id(order))
        if kept is not None and kept[0] is order:  # the entry holds the order: its id is not reused
            return kept[1]
        if len(self._orders) >= self._orders_kept:
            self._orders.clear()
        encoded = orjson.Fragment(orjson.dumps(_order_value(order)))
        self._orders[id(order)] = (order, encoded)
        return encoded

    def encode(self, state: MemberState | CampaignBudget) -> bytes:
        return encode_state(state, self._order)


def encode_state(state: MemberState | CampaignBudget,
                 order_value: Callable[[OrderRecord], object] = _order_value) -> bytes:
    if type(state) is CampaignBudget:
        return orjson.dumps([_BUDGET, 2, state.campaign_id, state.granted, state.seen_events])
    assert type(state) is MemberState
    return orjson.dumps([
        FORMAT_VERSION,
        state.member_id,
        epoch_ms(state.enrolled_at),
        state.tier,
        state.balance,
        state.lifetime_points,
        state.spend_by_month,
        state.seen_events,
        {order_id: order_value(order) for order_id, order in state.orders.items()},
        epoch_ms(state.last_activity_at),
        state.near_tier_notified,
        state.carried,
        state.carried_divisor,
        state.stamps,
        state.social_posts,
        state.social_days,
        {key: [r.reward, r.points, r.cancelled, r.partner_id, r.spent_from] for key, r in state.redemptions.items()},
        state.referred_by,
        {friend: epoch_ms(referred.qualified_at) for friend, referred in state.referred_friends.items()},
        [epoch_ms(when) for when in state.visits],
        {badge: epoch_ms(when) for badge, when in state.badges.items()},
        state.birthday,
        state.birthday_paid_year,
        state.expiry_warned,
        state.tier_period,
        state.tier_grace,
        state.lots,
        state.expiry_warned_until,
        state.visits_by_month,
        state.points_by_month,
        state.tier_floor,
        None if state.tier_floor_until is None else epoch_ms(state.tier_floor_until),
        state.membership,
        state.membership_warned,
        state.segments,
        state.campaign_points,
        state.tier_changes,
        None if state.last_purchase_at is None else epoch_ms(state.last_purchase_at),
        state.win_back_sent,
        state.favourite_orders,
        state.categories_bought,
        state.cross_sold,
        None if state.erased_at is None else epoch_ms(state.erased_at),
        {friend: referred.points for friend, referred in state.referred_friends.items() if referred.points is not None},
        state.unlocked_points,
        state.last_tick_on,
        state.membership_day,
        {friend: referred.expired for friend, referred in state.referred_friends.items() if referred.expired},
    ])


def _campaigns_by_id(order: list[Any]) -> list[Any]:
    """An order as formats 1 and 2 kept it, with its campaign points as format 3 keeps them."""
    if len(order) > 5:
        order[5] = {"": order[5]} if order[5] else {}
    return order


def _times_unknown(seen: dict[str, int]) -> dict[str, list[int]]:
    """Applied ids as formats before 4 kept them, with the time received alone: their events' times read as 0."""
    return {event_id: [received, 0] for event_id, received in seen.items()}


def decode_state(data: bytes) -> MemberState | CampaignBudget:
    version, *fields = orjson.loads(data)
    if version == _BUDGET:
        budget_version, campaign_id, granted, seen = fields
        return CampaignBudget(campaign_id, granted, seen if budget_version >= 2 else _times_unknown(seen))
    if not 1 <= version <= FORMAT_VERSION:
        raise ValueError(f"member state in format {version}, but this engine reads formats 1 to {FORMAT_VERSION}: "
                         "run the engine version that wrote it, or rebuild the table from the input topics")
    fields += _ADDED_DEFAULTS[len(fields) - _FORMAT_1_FIELDS:]
    if version < 3:
        fields[7] = {order_id: _campaigns_by_id(order) for order_id, order in fields[7].items()}
    if version < 4:
        fields[6] = _times_unknown(fields[6])
    (member_id, enrolled, tier, balance, lifetime, spend, seen, orders, last_activity, notified,
     carried, carried_divisor, stamps, social_posts, social_days, redemptions,
     referred_by, referred_friends, visits, badges, birthday, birthday_paid_year, expiry_warned,
     tier_period, tier_grace, lots, expiry_warned_until, visits_by_month, points_by_month, tier_floor,
     tier_floor_until, membership, membership_warned, segments, campaign_points, tier_changes,
     last_purchase_at, win_back_sent, favourite_orders, categories_bought, cross_sold, erased_at,
     referral_points, unlocked_points, last_tick_on, membership_day, referral_expired) = fields
    return MemberState(
        member_id=member_id,
        enrolled_at=from_epoch_ms(enrolled),
        tier=tier,
        balance=balance,
        lifetime_points=lifetime,
        spend_by_month=spend,
        seen_events=seen,
        orders={
            order_id: OrderRecord(from_epoch_ms(order[0]),
                                  {line_id: LineRecord(*line) for line_id, line in order[1].items()},
                                  *order[2:8], *order[9:])  # older states have fewer fields: the record's defaults
            for order_id, order in orders.items()
        },
        last_activity_at=from_epoch_ms(last_activity),
        near_tier_notified=notified,
        carried=carried,
        carried_divisor=carried_divisor,
        stamps=stamps,
        social_posts=social_posts,
        social_days=social_days,
        redemptions={key: RedemptionRecord(*record) for key, record in redemptions.items()},
        referred_by=referred_by,
        referred_friends={friend: ReferredFriend(from_epoch_ms(ms), referral_points.get(friend),
                                                 referral_expired.get(friend, 0))
                          for friend, ms in referred_friends.items()},
        visits=[from_epoch_ms(ms) for ms in visits],
        badges={badge: from_epoch_ms(ms) for badge, ms in badges.items()},
        birthday=birthday,
        birthday_paid_year=birthday_paid_year,
        expiry_warned=expiry_warned,
        tier_period=tier_period,
        tier_grace=tier_grace,
        lots=lots,
        expiry_warned_until=expiry_warned_until,
        visits_by_month=visits_by_month,
        points_by_month=points_by_month,
        tier_floor=tier_floor,
        tier_floor_until=None if tier_floor_until is None else from_epoch_ms(tier_floor_until),
        membership=membership,
        membership_warned=membership_warned,
        segments=segments,
        campaign_points=campaign_points,
        tier_changes=tier_changes,
        last_purchase_at=None if last_purchase_at is None else from_epoch_ms(last_purchase_at),
        win_back_sent=win_back_sent,
        favourite_orders=favourite_orders,
        categories_bought=categories_bought,
        cross_sold=cross_sold,
        erased_at=None if erased_at is None else from_epoch_ms(erased_at),
        unlocked_points=unlocked_points,
        last_tick_on=last_tick_on,
        membership_day=membership_day,
    )
