"""Input events as typed values, one class per thing that happens to a member.

Every event carries the stable ``event_id`` its source gave it, the member it
belongs to (card transactions are resolved to a member before they get here)
and its own event time: rules never read the wall clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Channel(StrEnum):
    WEB = "web"
    POS = "pos"
    CARD = "card"
    APP = "app"


class SocialAction(StrEnum):
    SHARE = "share"
    TAG = "tag"
    FOLLOW = "follow"


@dataclass(slots=True)
class PurchaseLine:
    line_id: str
    sku: str
    category: str
    quantity: int
    amount_minor: int


@dataclass(slots=True)
class ReturnedLine:
    line_id: str
    quantity: int


@dataclass(slots=True)
class MemberEvent:
    event_id: str
    member_id: str
    occurred_at: datetime
    source: str


@dataclass(slots=True)
class Purchase(MemberEvent):
    order_id: str
    channel: Channel
    store_id: str | None
    currency: str
    total_minor: int
    lines: tuple[PurchaseLine, ...]
    payment_method: str | None
    partner_id: str | None = None  # a purchase at a coalition partner
    points_used: int = 0  # points the member paid part of the order with


@dataclass(slots=True)
class Return(MemberEvent):
    order_id: str
    currency: str
    refund_minor: int
    lines: tuple[ReturnedLine, ...]


@dataclass(slots=True)
class MemberEnrolled(MemberEvent):
    channel: Channel
    birthday: str | None  # "MM-DD": enough for a birthday bonus, not a birth date
    referred_by: str | None


@dataclass(slots=True)
class CardChange(MemberEvent):
    """The member linked or unlinked a payment card, named by its token (never its number)."""

    card_token: str


@dataclass(slots=True)
class CardLinked(CardChange):
    """The card's transactions earn for the member from now on."""


@dataclass(slots=True)
class CardUnlinked(CardChange):
    """The card's transactions from now on earn nothing; earlier ones that arrive later still earn."""


@dataclass(slots=True)
class Referral(MemberEvent):
    referral_code: str
    friend_member_id: str | None


@dataclass(slots=True)
class SocialShare(MemberEvent):
    platform: str
    action: SocialAction
    post_id: str


@dataclass(slots=True)
class Redemption(MemberEvent):
    redemption_id: str
    reward: str  # the id of a reward in the program's catalogue


@dataclass(slots=True)
class RedemptionCancelled(MemberEvent):
    redemption_id: str


@dataclass(slots=True)
class Donation(MemberEvent):
    cause: str  # the id of one of the program's causes
    points: int


@dataclass(slots=True)
class MembershipPaid(MemberEvent):
    """A paid membership's fee: it buys the membership's tier for its months, or renews it."""

    membership: str  # the id of one of the program's memberships
    fee_minor: int
    currency: str


@dataclass(slots=True)
class TierAssigned(MemberEvent):
    """Staff put the member in ``tier`` as a floor, until ``until`` (for good if None); the base tier removes it."""

    tier: str
    until: datetime | None
    note: str  # why, for the member's history


@dataclass(slots=True)
class MemberSegments(MemberEvent):
    """The marketing segments the member is in now (computed elsewhere, e.g. from ClickHouse), for campaigns."""

    segments: tuple[str, ...]


@dataclass(slots=True)
class SurveyAnswered(MemberEvent):
    """The member's answer to "how likely are you to recommend us?": what the Net Promoter Score counts."""

    survey: str  # the survey's id, e.g. nps-2026-q4
    score: int  # 0 (not at all likely) to 10 (extremely likely)


@dataclass(slots=True)
class MemberErased(MemberEvent):
    """The member left and asked to be forgotten: the account closes and its personal data is erased."""

    reason: str  # why, kept with the closing ledger entry


@dataclass(slots=True)
class ReferralNews(MemberEvent):
    """The engine's own event, to the referrer: news of a friend they referred and the friend's qualifying order."""

    friend_member_id: str
    order_id: str


@dataclass(slots=True)
class ReferralQualified(ReferralNews):
    """The friend made a first qualifying purchase."""


@dataclass(slots=True)
class ReferralRevoked(ReferralNews):
    """The friend's qualifying order was returned, so it no longer counts."""


@dataclass(slots=True)
class ReferralMoved(ReferralNews):
    """The friend's qualifying order was returned, and ``order_id``, bought at ``purchased_at``, qualifies instead."""

    purchased_at: datetime


# A campaign with a total budget keeps it under this key, as if it were a member: claims queue there.
CAMPAIGN_KEY_PREFIX = "campaign:"


@dataclass(slots=True)
class BudgetChange(MemberEvent):
    """The engine's own event, to a campaign's key: ``points`` of its total budget, for a member's order."""

    campaign: str
    claimant: str  # the member whose order it is
    order_id: str
    points: int


@dataclass(slots=True)
class CampaignClaim(BudgetChange):
    """A member's purchase asks for ``points`` of the budget."""


@dataclass(slots=True)
class CampaignAward(MemberEvent):
    """The engine's own event, back to the member: what the campaign's budget granted of a claim."""

    campaign: str
    order_id: str
    points: int  # granted
    claimed: int


@dataclass(slots=True)
class CampaignRelease(BudgetChange):
    """A return took back ``points`` the budget had granted the order."""


# The engine's own events that go to a campaign's key (``CAMPAIGN_KEY_PREFIX``) rather than to a member.
BUDGET_EVENTS = (CampaignClaim, CampaignRelease)

# The events a rule sends to another key, through the engine's own topic.
FollowUpEvent = ReferralQualified | ReferralRevoked | ReferralMoved | CampaignClaim | CampaignAward | CampaignRelease


@dataclass(slots=True)
class ClockTick(MemberEvent):
    """Time passing for a member (a scheduler sends one a day): what falls due at ``occurred_at``."""


# Made by the engine itself (its scheduler, or a rule's follow-up) and accepted only from its own topic: a feed
# sending them could grant points outside the rules, or expire every balance with a tick dated years ahead.
ENGINE_MADE_EVENTS = (ClockTick, ReferralQualified, ReferralRevoked, ReferralMoved, CampaignClaim, CampaignAward,
                      CampaignRelease)
