"""What the engine remembers about one member between events."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple


class LineRecord(NamedTuple):
    """What is left of one purchased line that a return could still reverse.

    ``amount_minor`` is the qualifying spend still to reverse (0 for a line in an
    excluded category, which never counted towards a tier), ``points`` the points.
    Like the order that holds it, never changed once made (a return keeps a new
    record): the worker's storage encodes each order once and recognises it by identity.
    """

    quantity: int
    amount_minor: int
    points: int


class OrderRecord(NamedTuple):
    """A purchase kept for returns; never changed once made, a return or an award keeps a new record."""

    occurred_at: datetime
    lines: dict[str, LineRecord]
    partner_id: str | None = None  # bought at this coalition partner
    points_used: int = 0  # points the member paid with, still to give back if the order is returned
    total_minor: int = 0  # what is left of the order's total, to give the paid points back in proportion
    # Campaign points still to take back if the order is returned, by campaign (see ``campaigns``): a return gives
    # the campaign's budget back what it takes. "" holds points from before the engine kept the campaign.
    campaign_points: Mapping[str, int] = {}  # read-only: an award or a return keeps a new record with a new one
    referrer: str | None = None  # the member whose referral this purchase qualified, until a return undoes it
    referral_points: int = 0  # what that referral gave the friend, to take back with it
    expired: int = 0  # of the points still to take back, those that expired meanwhile: a return leaves them
    # Of each campaign's points above, its fixed bonus (the rest multiplied the lines' points); read-only.
    campaign_bonus: Mapping[str, int] = {}
    bought_points: int = 0  # the lines' points when bought, for an award that finds part of them returned
    # The part of a point the order left over for later orders (negative: took from what earlier ones left), over
    # the program's points divisor: programs that carry remainders only.
    carried: int = 0
    # Where points expire by age: the lots the points paid with came from (day they expire -> points), still to
    # give back; a refund gives them back there, the oldest first. Read-only.
    paid_from: Mapping[str, int] = {}

    def points_left(self) -> int:
        """The points a return of all that is left of the order would take back, expired ones included."""
        return (sum(line.points for line in self.lines.values()) + sum(self.campaign_points.values())
                + self.referral_points)


class ReferredFriend(NamedTuple):
    """A friend whose referral rewarded this member: when the friend's qualifying purchase was made, the
    points the reward gave (``None`` if rewarded before the engine kept them: the program's reward then), and
    how many of them expired with inactivity (not taken back a second time if the referral is undone)."""

    qualified_at: datetime
    points: int | None
    expired: int = 0


@dataclass(slots=True)
class RedemptionRecord:
    reward: str
    points: int
    cancelled: bool = False
    partner_id: str | None = None  # spent on this coalition partner's voucher
    # Where points expire by age: the lots the points were spent from (day they expire -> points), which a
    # cancellation gives them back to. Empty for redemptions from before the engine kept them.
    spent_from: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class CampaignBudget:
    """What a campaign with a total budget has given, kept under the campaign's own key (``campaign:ID``).

    Every member's claim on the budget is applied there, one at a time, so the
    total is counted exactly, once, whichever partitions the members are on.
    ``seen_events`` are the claims applied, as a member's are.
    """

    campaign_id: str
    granted: int
    seen_events: dict[str, list[int]]


@dataclass(slots=True)
class MemberState:
    """A member's balance, tier and the recent history the rules need.

    ``decide`` updates it in place; whoever holds it (the worker's table cache)
    owns it.

    ``seen_events`` maps applied event ids to ``[received, occurred]``: the time the engine received each and
    the event's own time (epoch milliseconds: compact to store), so a redelivered event changes nothing and another
    event under a reused id is told apart; ids received longer ago than the program's dedup window are pruned (see
    ``dedup``). ``orders`` keeps purchases inside the return window so
    a return reverses exactly the points its lines earned.

    ``balance`` is always the sum of the member's ledger entries;
    ``lifetime_points`` is every point credited, net of returns (spending points
    will not reduce it). ``spend_by_month`` holds qualifying spend per
    ``"YYYY-MM"`` for the months of the tier window; ``last_activity_at`` is
    the latest event time applied.

    ``carried`` is the part of a point earlier orders left over, as a numerator
    over ``carried_divisor`` (programs that carry remainders only). ``stamps``
    counts the stamps on each stamp card. ``social_posts`` maps each post that
    earned social points to the day it did; ``social_days`` holds the social
    points of the days a late share is still paid for, for the daily cap (see ``social``).
    ``redemptions`` maps each redemption id to the reward, its points and
    whether it was cancelled, so a cancellation gives back exactly what was spent.
    ``referred_by`` is the member who referred this one, until the first
    qualifying purchase rewards the referral (then ``None``); ``referred_friends``
    holds each friend this member was rewarded for: when the purchase that qualified was made (the cap
    counts by it; the reward waits on its return window) and the points (taken back if it is
    returned). ``visits`` holds the times of recent purchases (as long as the longest challenge looks back)
    and ``badges`` each challenge completed, with when. ``birthday`` is "MM-DD"
    (no year is kept), ``birthday_paid_year`` the last year a bonus was paid,
    ``expiry_warned`` whether the member was warned of expiry since their last activity.
    ``tier`` is the tier the member earned: raised by their record, kept or
    lowered by reviews. The tier they hold (earn at, are told about) is that or
    ``tier_floor``, whichever is higher (``tiers.held_tier``).
    ``tier_period`` is the review period ("2025", or "2025-03") the tier was last
    reviewed in, ``tier_grace`` the reviews in a row the member kept their earned tier
    though the record no longer supported it (none yet for a tier just reached).

    ``lots`` (programs whose points expire by age) maps the day points expire
    ("YYYY-MM-DD") to how many of them are left; they add up to the balance
    (or to zero when it is negative), and spending takes the oldest first.
    ``expiry_warned_until`` is the latest such day the member was warned about.
    ``visits_by_month`` and ``points_by_month`` count purchases and the points
    they earned per month, like ``spend_by_month``, for programs whose tiers
    qualify by them. ``tier_floor`` is a tier the member holds at least
    until ``tier_floor_until`` (for good if None): assigned by staff, or bought
    as the paid ``membership`` (its id), whose lapse the member is warned of
    once (``membership_warned``); ``membership_day`` is the day of the month it was bought on, which renewals
    count months from (0: the day of ``tier_floor_until``, for states kept before it was). ``segments`` are
    the marketing segments the member was last put in; ``campaign_points`` what each campaign has given them.
    ``tier_changes`` counts the member's tier changes, which are numbered with it.

    ``last_purchase_at`` is the latest purchase's time, and ``win_back_sent`` whether the member was
    nudged back since. ``favourite_orders`` counts the orders with each SKU of the categories the
    program's repeat favourites watch; ``categories_bought`` holds which of the categories its
    cross-sell rules name the member has bought, and ``cross_sold`` the suggestions made (``bought>suggest``).

    ``unlocked_points`` is the cost of the dearest catalogue reward the member's spendable points reached when
    last looked at (0: none), so each reward is announced once per climb past its cost (see ``unlocks``).

    ``last_tick_on`` is the day ("YYYY-MM-DD") of the latest clock tick applied ("": none yet), so a birthday
    between two ticks days apart is still paid.

    ``erased_at`` is when the member was erased: the state then keeps only its id, when it
    joined and the ids of the events it applied, and takes no further event.
    """

    member_id: str
    enrolled_at: datetime
    tier: str
    balance: int
    lifetime_points: int
    spend_by_month: dict[str, int]
    seen_events: dict[str, list[int]]
    orders: dict[str, OrderRecord]
    last_activity_at: datetime
    near_tier_notified: str | None
    carried: int = 0
    carried_divisor: int = 0
    stamps: dict[str, int] = field(default_factory=dict)
    social_posts: dict[str, str] = field(default_factory=dict)
    social_days: dict[str, int] = field(default_factory=dict)
    redemptions: dict[str, RedemptionRecord] = field(default_factory=dict)
    referred_by: str | None = None
    referred_friends: dict[str, ReferredFriend] = field(default_factory=dict)
    visits: list[datetime] = field(default_factory=list)
    badges: dict[str, datetime] = field(default_factory=dict)
    birthday: str | None = None
    birthday_paid_year: int = 0
    expiry_warned: bool = False
    tier_period: str = ""
    tier_grace: int = 0
    lots: dict[str, int] = field(default_factory=dict)
    expiry_warned_until: str = ""
    visits_by_month: dict[str, int] = field(default_factory=dict)
    points_by_month: dict[str, int] = field(default_factory=dict)
    tier_floor: str | None = None
    tier_floor_until: datetime | None = None
    membership: str | None = None
    membership_warned: bool = False
    segments: list[str] = field(default_factory=list)
    campaign_points: dict[str, int] = field(default_factory=dict)
    tier_changes: int = 0
    last_purchase_at: datetime | None = None
    win_back_sent: bool = False
    favourite_orders: dict[str, int] = field(default_factory=dict)
    categories_bought: list[str] = field(default_factory=list)
    cross_sold: list[str] = field(default_factory=list)
    erased_at: datetime | None = None
    unlocked_points: int = 0
    last_tick_on: str = ""
    membership_day: int = 0
