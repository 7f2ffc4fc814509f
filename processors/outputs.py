"""What the rules decide: ledger entries, rewards, triggers, tier changes, activity.

Every output has a deterministic id derived from its source event and the rule
that made it, so a re-emitted output is recognised downstream as the same one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from processors.events import FollowUpEvent
from processors.state import CampaignBudget, MemberState


class LedgerReason(StrEnum):
    PURCHASE = "purchase"
    WELCOME = "welcome"
    RETURN = "return"
    SOCIAL = "social"
    REDEMPTION = "redemption"
    REDEMPTION_CANCELLED = "redemption_cancelled"
    DONATION = "donation"
    REFERRAL = "referral"
    CHALLENGE = "challenge"
    BIRTHDAY = "birthday"
    EXPIRY = "expiry"
    POINTS_PAYMENT = "points_payment"  # points a member paid part of an order with
    POINTS_REFUND = "points_refund"  # those points given back when the order is returned
    CAMPAIGN = "campaign"
    ERASED = "erased"  # the account closed at the member's request: what was left is forfeited
    # Pending points that now wait on another purchase (a referral's, when a later one qualifies it): a pair of
    # entries, giving them with the new date and taking them off with the old, that leaves the balance as it was
    PENDING_MOVED = "pending_moved"


@dataclass(slots=True)
class LedgerEntry:
    """One change of a member's balance, with the event and rule that caused it."""

    entry_id: str
    member_id: str
    event_id: str
    occurred_at: datetime
    reason: LedgerReason
    points: int
    balance_after: int
    order_id: str | None
    line_id: str | None
    detail: str
    cause: str | None = None  # donations: the cause the points went to
    available_at: datetime | None = None  # pending points: when they can be spent
    seq: int = 0  # its place among the ledger entries of one event, in the order they were applied


@dataclass(slots=True)
class RewardIssued:
    reward_id: str
    member_id: str
    event_id: str
    occurred_at: datetime
    reward: str
    points: int
    detail: str


@dataclass(slots=True)
class Trigger:
    """A moment worth telling the member about; downstream systems send the message."""

    trigger_id: str
    member_id: str
    event_id: str
    occurred_at: datetime
    kind: str
    message: str
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class TierChanged:
    change_id: str
    member_id: str
    event_id: str
    occurred_at: datetime
    from_tier: str
    to_tier: str
    qualifying_spend_minor: int
    reason: str
    number: int = 0  # the member's how-manieth tier change: the order they were applied in, whatever the event times


@dataclass(slots=True)
class ActivityLine:
    line_id: str
    sku: str
    category: str
    quantity: int
    amount_minor: int
    points: int


@dataclass(slots=True)
class Activity:
    """An accepted input event, resolved to its member and free of personal data.

    Returns carry negative amounts and points so that sums give net figures.
    """

    event_id: str
    member_id: str
    occurred_at: datetime
    event_type: str
    channel: str | None
    store_id: str | None
    currency: str | None
    amount_minor: int
    points: int
    order_id: str | None
    lines: tuple[ActivityLine, ...] = ()
    survey: str | None = None  # a survey answer's survey and 0-10 score
    score: int | None = None
    segments: tuple[str, ...] = ()  # the member's marketing segments from a segments event on


@dataclass(slots=True)
class Erasure:
    """A member left and asked to be forgotten: the account is closed and erased; downstream, delete them too."""

    erasure_id: str
    member_id: str
    event_id: str
    occurred_at: datetime


@dataclass(slots=True)
class SettlementEntry:
    """What a coalition partner owes the program (positive) or is owed (negative) for one event's points."""

    settlement_id: str
    partner_id: str
    member_id: str
    event_id: str
    occurred_at: datetime
    kind: str  # earn, return, burn, burn_cancelled
    points: int
    amount_minor: int
    currency: str
    detail: str


@dataclass(slots=True)
class FollowUp:
    """An event the engine sends itself, to another member's partition (it goes back to the input topic)."""

    event: FollowUpEvent


# The engine's own events have ids ending with one of these: they are not input, and counts of input leave them out.
FOLLOW_UP_SUFFIXES = REFERRAL_SUFFIX, REVOKED_SUFFIX, MOVED_SUFFIX, CLAIM_SUFFIX, AWARD_SUFFIX, RELEASE_SUFFIX = (
    ":referral", ":referral_revoked", ":referral_moved", ":campaign_claim", ":campaign_award", ":campaign_release")


Output = LedgerEntry | RewardIssued | Trigger | TierChanged | Activity | SettlementEntry | Erasure | FollowUp


@dataclass(slots=True)
class Refusal:
    """Why an event cannot be applied; it goes to the dead-letter topic with this reason. ``final``: the same
    event is not judged again (see ``refusals``)."""

    event_id: str
    member_id: str
    reason: str
    final: bool = False


@dataclass(slots=True)
class Decision:
    """The result of applying one event: the member's new state and what to emit.

    ``state`` is the unchanged input state when the event is a duplicate or is
    refused; ``duplicate`` tells the two apart from an applied event.
    """

    state: MemberState | CampaignBudget | None
    outputs: tuple[Output, ...] = ()
    refusal: Refusal | None = None
    duplicate: bool = False
