"""Small builders so unit tests read as a member's story in the program.

``club()`` is the program most examples use: 1 point per 10 kr, Silver from
5,000 kr (x1.25) and Gold from 10,000 kr (x1.5) of qualifying spend in 12
months, 100 welcome points, gift cards earn nothing. ``Member`` applies events
through ``decide`` and keeps the state and everything emitted.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from processors.decide import decide
from processors.events import (
    CardLinked,
    Channel,
    MemberEnrolled,
    MemberEvent,
    Purchase,
    PurchaseLine,
    Redemption,
    RedemptionCancelled,
    Referral,
    Return,
    ReturnedLine,
    SocialAction,
    SocialShare,
)
from processors.outputs import (
    Activity,
    Decision,
    LedgerEntry,
    Output,
    RewardIssued,
    SettlementEntry,
    TierChanged,
    Trigger,
)
from processors.program import EarnRate, Program, TierPolicy
from processors.state import MemberState

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)

_ids = itertools.count(1)


def new_id(prefix: str) -> str:
    return f"{prefix}-{next(_ids)}"


def kr(whole: int, ore: int = 0) -> int:
    """Kronor in öre, the program's minor unit: ``kr(1_000)`` is 1,000.00 SEK."""
    return whole * 100 + ore


def club(**overrides: Any) -> Program:
    rules: dict[str, Any] = {
        "name": "Club",
        "currency": "SEK",
        "earn": EarnRate(points=1, per_amount_minor=kr(10)),
        "excluded_categories": frozenset({"gift_card"}),
        "welcome_bonus_points": 100,
        "tiers": (
            TierPolicy(name="Member", qualifying_spend_minor=0),
            TierPolicy(name="Silver", qualifying_spend_minor=kr(5_000), earn_multiplier_bp=12_500),
            TierPolicy(name="Gold", qualifying_spend_minor=kr(10_000), earn_multiplier_bp=15_000),
        ),
        "qualifying_months": 12,
        "near_tier_threshold_bp": 8_000,
        "dedup_window_days": 60,
        "return_window_days": 30,
    }
    rules.update(overrides)
    return Program(**rules)


def line(
    amount_minor: int, category: str = "clothing", quantity: int = 1, line_id: str | None = None,
    sku: str | None = None,
) -> PurchaseLine:
    return PurchaseLine(line_id or new_id("line"), sku or f"sku-{category}", category, quantity, amount_minor)


def enrolled(member_id: str, at: datetime = T0, event_id: str | None = None) -> MemberEnrolled:
    return MemberEnrolled(event_id or new_id("enrol"), member_id, at, "app", Channel.APP, "05-17", None)


def purchase(
    member_id: str,
    *lines: PurchaseLine,
    at: datetime = T0,
    order_id: str | None = None,
    currency: str = "SEK",
    event_id: str | None = None,
    payment_method: str = "card",
    partner_id: str | None = None,
    points_used: int = 0,
) -> Purchase:
    return Purchase(
        event_id or new_id("buy"),
        member_id,
        at,
        "pos:store-1",
        order_id or new_id("order"),
        Channel.POS,
        "store-1",
        currency,
        sum(item.amount_minor for item in lines),
        lines,
        payment_method,
        partner_id,
        points_used,
    )


def returned(
    member_id: str,
    order_id: str,
    quantities: dict[str, int],
    at: datetime = T0,
    refund_minor: int = 0,
    event_id: str | None = None,
) -> Return:
    lines = tuple(ReturnedLine(line_id, quantity) for line_id, quantity in quantities.items())
    return Return(event_id or new_id("ret"), member_id, at, "webshop", order_id, "SEK", refund_minor, lines)


def card_linked(member_id: str, at: datetime = T0, token: str = "tok_8f2a") -> CardLinked:
    return CardLinked(new_id("card"), member_id, at, "bank:nordea", token)


def referral(member_id: str, at: datetime = T0) -> Referral:
    return Referral(new_id("ref"), member_id, at, "app", "ANNA-2024", None)


def social_share(member_id: str, at: datetime = T0, platform: str = "instagram", action: str = "share",
                 post_id: str = "post-1") -> SocialShare:
    return SocialShare(new_id("share"), member_id, at, "app", platform, SocialAction(action), post_id)


class Member:
    """One member's story: every event goes through ``decide``; state and outputs are kept."""

    def __init__(self, program: Program, member_id: str = "anna", at: datetime = T0) -> None:
        self.program = program
        self.member_id = member_id
        self.now = at
        self.state: MemberState | None = None
        self.outputs: list[Output] = []
        self.last: Decision | None = None

    def apply(self, event: MemberEvent) -> Decision:
        """The engine receives ``event`` at the member's clock, ``now``."""
        decision = decide(self.state, event, self.program, self.now)
        self.state = decision.state
        self.outputs += decision.outputs
        self.last = decision
        return decision

    def later(self, **delta: float) -> datetime:
        self.now += timedelta(**delta) if delta else timedelta(hours=1)
        return self.now

    def enrol(self) -> Decision:
        return self.apply(enrolled(self.member_id, self.later()))

    def buy(self, *lines: PurchaseLine, order_id: str | None = None, currency: str = "SEK",
            paid_with: str = "card", at_partner: str | None = None, points_used: int = 0) -> Decision:
        return self.apply(purchase(self.member_id, *lines, at=self.later(), order_id=order_id, currency=currency,
                                   payment_method=paid_with, partner_id=at_partner, points_used=points_used))

    def redeem(self, reward: str, redemption_id: str) -> Decision:
        return self.apply(Redemption(new_id("redeem"), self.member_id, self.later(), "app", redemption_id, reward))

    def cancel(self, redemption_id: str) -> Decision:
        return self.apply(RedemptionCancelled(new_id("cancel"), self.member_id, self.later(), "app", redemption_id))

    def share(self, post_id: str, platform: str = "instagram", action: str = "share") -> Decision:
        return self.apply(social_share(self.member_id, self.later(), platform, action, post_id))

    def give_back(self, order_id: str, refund_minor: int = 0, **quantities: int) -> Decision:
        return self.apply(returned(self.member_id, order_id, quantities, at=self.later(), refund_minor=refund_minor))

    def reach(self, tier: str) -> None:
        """Spend exactly the tier's qualifying amount on groceries, so later purchases earn its rate."""
        threshold = self.program.tier(tier).qualifying_spend_minor
        spent = sum(self.state.spend_by_month.values()) if self.state else 0
        if threshold > spent:
            self.buy(line(threshold - spent, "groceries"))
        assert self.state is not None and self.state.tier == tier

    @property
    def balance(self) -> int:
        assert self.state is not None
        return self.state.balance

    @property
    def ledger(self) -> list[LedgerEntry]:
        return [o for o in self.outputs if isinstance(o, LedgerEntry)]

    @property
    def triggers(self) -> list[Trigger]:
        return [o for o in self.outputs if isinstance(o, Trigger)]

    @property
    def tier_changes(self) -> list[TierChanged]:
        return [o for o in self.outputs if isinstance(o, TierChanged)]

    @property
    def rewards(self) -> list[RewardIssued]:
        return [o for o in self.outputs if isinstance(o, RewardIssued)]

    @property
    def settlements(self) -> list[SettlementEntry]:
        return [o for o in self.outputs if isinstance(o, SettlementEntry)]

    @property
    def activity(self) -> list[Activity]:
        return [o for o in self.outputs if isinstance(o, Activity)]


def points_earned(decision: Decision) -> int:
    """The points of the purchase ledger entry in ``decision`` (0 if none)."""
    return sum(o.points for o in decision.outputs if isinstance(o, LedgerEntry))
