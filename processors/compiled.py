"""The program's rules precomputed once into plain integers, strings and dicts.

``decide`` runs hundreds of thousands of times a second; reading pydantic
attributes, building timedeltas and formatting the same rate text on every
event would cost more than the rules themselves. ``compiled(program)`` builds
this form the first time a program is seen and returns the same object after.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from processors.events import Channel
from processors.money import format_money, format_multiplier, format_points
from processors.program import (
    BASIS_POINTS,
    Campaign,
    CatalogueReward,
    Cause,
    Challenge,
    CrossSell,
    Expiry,
    Membership,
    Partner,
    Program,
    ReferralRewards,
    RepeatFavourites,
    SocialPoints,
    StampCard,
    TierReview,
    WinBack,
)

# One plain string per channel, so outputs carry ``"web"`` and not the enum.
CHANNEL_NAMES: dict[Channel | None, str | None] = {channel: channel.value for channel in Channel}
CHANNEL_NAMES[None] = None


@dataclass(frozen=True, slots=True)
class TierStep:
    """One tier with everything a purchase needs from it, and the step above it."""

    index: int
    name: str
    thresholds: tuple[int | None, int | None, int | None]  # spend, visits, points; None: not a way in
    threshold_text: str  # "5,000.00 SEK or 25 visits"
    earn_multiplier_bp: int
    multiplier_text: str  # "x1.5"
    earn_factor: int  # earn.points x earn_multiplier_bp: the numerator of every line's points
    rate_text: str  # "at 1 point per 10.00 SEK, Gold x1.5"
    perks: tuple[str, ...]
    next_name: str | None
    # The next tier's ways in, each (measure, threshold, threshold x near_tier_threshold_bp): what ``near_tier``
    # compares a record with, on most purchases
    near_next: tuple[tuple[int, int, int], ...]


@dataclass(frozen=True, slots=True)
class PartnerTerms:
    """A coalition partner's earn rate in the form ``award_points`` uses."""

    partner: Partner
    points: int
    points_divisor: int  # per_amount_minor x 10,000 x 10,000 x 10,000, as the program's own
    rate_text: str  # "at 1 point per 20.00 SEK at Stadsmuseet"
    minimum_spend_text: str


@dataclass(frozen=True, slots=True)
class CompiledProgram:
    program: Program
    name: str
    currency: str
    category_weight_bp: dict[str, int]  # category multiplier in bp; 0 for an excluded category
    sku_weight_bp: dict[str, int]  # the same for SKUs, which take precedence over their category
    payment_terms: dict[str, tuple[int, str]]  # payment method -> (multiplier bp, ", paid with app x2")
    points_divisor: int  # earn.per_amount_minor x 10,000 (line bp) x 10,000 (tier bp) x 10,000 (payment bp)
    minimum_spend_minor: int
    minimum_spend_text: str
    carry_remainder: bool
    stamp_cards: tuple[StampCard, ...]
    social: SocialPoints | None
    rewards: dict[str, CatalogueReward]  # the catalogue by reward id
    reward_costs: tuple[int, ...]  # the catalogue's point costs, each once, cheapest first
    partners: dict[str, PartnerTerms]
    causes: dict[str, Cause]
    referral: ReferralRewards | None
    challenges: tuple[Challenge, ...]
    visits_window: timedelta  # how far back the longest challenge counts visits
    birthday_bonus_points: int
    win_back: WinBack | None
    repeat_favourites: RepeatFavourites | None
    cross_sell: tuple[CrossSell, ...]
    cross_sell_categories: frozenset[str]  # the categories cross-sell rules name: a member's purchases of them count
    nudge_categories: frozenset[str]  # those and the repeat favourites' categories: a purchase of none nudges nothing
    holdout_bp: int  # the share of members who get no campaign points and no offers (``holdout``)
    expiry: Expiry | None
    lots: bool  # points expire by age, so the state keeps them in lots by expiry day
    tier_review: TierReview | None
    tiers: tuple[TierStep, ...]
    tiers_above: tuple[tuple[TierStep, ...], ...]  # by a tier's index: the tiers above it, lowest first
    tier_by_name: dict[str, TierStep]
    welcome_bonus_points: int
    qualifying_months: int
    calendar_period: bool  # qualifying periods are calendar blocks from January, not rolling
    counts_visits: bool  # some tier qualifies by visits, so the state counts them per month
    counts_points: bool  # some tier qualifies by points earned
    near_tier_threshold_bp: int
    memberships: dict[str, Membership]
    campaigns: tuple[Campaign, ...]
    campaigns_by_id: dict[str, Campaign]
    dedup_window_ms: int
    dedup_window_days: int
    return_window: timedelta
    return_window_days: int
    orders_kept: timedelta  # how long after a purchase its order is kept for returns: the window and a late margin
    pending: timedelta  # how long a purchase's points stay pending
    zone: tzinfo  # the time zone days, months and years are counted in (UTC itself unless the program names one)
    _months: dict[int, tuple[str, str, str]] = field(default_factory=dict)
    _category_terms: dict[tuple[str, ...], tuple[str, str]] = field(default_factory=dict)
    _expiry_days: dict[date, str] = field(default_factory=dict)

    def tier(self, name: str) -> TierStep:
        """The member's tier; a tier since removed from the program counts as the base tier."""
        return self.tier_by_name.get(name, self.tiers[0])

    def local(self, when: datetime) -> datetime:
        """``when`` (aware) in the program's time zone, where its day, month and year are counted."""
        zone = self.zone
        return when if zone is UTC or when.tzinfo is zone else when.astimezone(zone)

    def month_window(self, when: datetime) -> tuple[str, str, str]:
        """The ``"YYYY-MM"`` keys of ``when``'s month, of its qualifying window's first month, and of the first
        month a member's record must keep.

        The window is the ``qualifying_months`` months ending with this one
        (rolling), or the calendar block of them that holds it (calendar). The
        record keeps one window more, for the review at a period's end. Keys
        compare as strings in calendar order.
        """
        when = self.local(when)
        index = when.year * 12 + when.month - 1
        keys = self._months.get(index)
        if keys is None:
            months = self.qualifying_months
            first = index - index % months if self.calendar_period else index - months + 1
            keys = (_month_key(index), _month_key(first), _month_key(first - months))
            self._months[index] = keys
        return keys

    def period_text(self, first_month: str) -> str:
        """Words for a qualifying window starting at ``first_month``: "in the last 12 months", "in 2026"."""
        if not self.calendar_period:
            return f"in the last {self.qualifying_months} months"
        return f"in {first_month[:4]}" if self.qualifying_months == 12 else f"since {first_month}"

    def expires_on(self, when: datetime) -> str:
        """The day points earned at ``when`` are gone, "YYYY-MM-DD": they expire as that day starts (in the
        program's time zone).

        Only for programs whose points expire by age (``lots``).
        """
        day = self.local(when).date()
        key = self._expiry_days.get(day)
        if key is None:
            expiry = self.expiry
            assert expiry is not None
            if expiry.after_days is not None:
                gone = day + timedelta(days=expiry.after_days + 1)
            elif expiry.at == "month_end":
                index = day.year * 12 + day.month + expiry.periods_later  # the month after the last one kept
                gone = date(index // 12, index % 12 + 1, 1)
            else:
                gone = date(day.year + expiry.periods_later + 1, 1, 1)
            key = gone.isoformat()
            if len(self._expiry_days) < _TERMS_CACHE_SIZE:
                self._expiry_days[day] = key
        return key

    def weight_bp(self, category_or_sku: str) -> int:
        weight = self.sku_weight_bp.get(category_or_sku)
        return self.category_weight_bp[category_or_sku] if weight is None else weight

    def category_terms(self, categories: tuple[str, ...]) -> tuple[str, str]:
        """Words for an order's categories (or SKUs) that do not earn x1, before and after its points.

        ``("shoes", "gift_card")`` -> ``(", shoes x2", " (gift_card earns no points)")``.
        Orders repeat the same few combinations, so the words are made once each.
        """
        terms = self._category_terms.get(categories)
        if terms is None:
            unique = dict.fromkeys(categories)
            weights = {c: self.weight_bp(c) for c in unique}
            multiplied = "".join(f", {c} {format_multiplier(weights[c])}" for c in unique if weights[c])
            excluded = ", ".join(c for c in unique if not weights[c])
            terms = (multiplied, f" ({excluded} earns no points)" if excluded else "")
            if len(self._category_terms) < _TERMS_CACHE_SIZE:
                self._category_terms[categories] = terms
        return terms


_TERMS_CACHE_SIZE = 4096


def _month_key(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _compile(program: Program) -> CompiledProgram:
    weights = {category: bp for category, bp in program.category_multipliers_bp.items()}
    weights.update(dict.fromkeys(program.excluded_categories, 0))
    sku_weights = dict(program.sku_multipliers_bp)
    sku_weights.update(dict.fromkeys(program.excluded_skus, 0))
    per = format_money(program.earn.per_amount_minor, program.currency)
    rate = f"{format_points(program.earn.points)} per {per}"
    steps = []
    for index, policy in enumerate(program.tiers):
        above = program.tiers[index + 1] if index + 1 < len(program.tiers) else None
        thresholds = (policy.qualifying_spend_minor, policy.qualifying_visits, policy.qualifying_points)
        next_thresholds = ((above.qualifying_spend_minor, above.qualifying_visits, above.qualifying_points)
                           if above else (None, None, None))
        steps.append(
            TierStep(
                index=index,
                name=policy.name,
                thresholds=thresholds if index else (None, None, None),
                threshold_text=" or ".join(format_measure(n, value, program.currency)
                                           for n, value in enumerate(thresholds) if value is not None),
                earn_multiplier_bp=policy.earn_multiplier_bp,
                multiplier_text=format_multiplier(policy.earn_multiplier_bp),
                earn_factor=program.earn.points * policy.earn_multiplier_bp,
                rate_text=f"at {rate}, {policy.name} {format_multiplier(policy.earn_multiplier_bp)}",
                perks=policy.perks,
                next_name=above.name if above else None,
                near_next=tuple((measure, threshold, threshold * program.near_tier_threshold_bp)
                                for measure, threshold in enumerate(next_thresholds) if threshold),
            )
        )
    tiers = tuple(steps)
    cross_sell_categories = frozenset(c for rule in program.cross_sell for c in (rule.bought, rule.suggest))
    return CompiledProgram(
        program=program,
        name=program.name,
        currency=program.currency,
        category_weight_bp=weights,
        sku_weight_bp=sku_weights,
        payment_terms={method: (bp, f", paid with {method} {format_multiplier(bp)}")
                       for method, bp in program.payment_multipliers_bp.items()},
        points_divisor=program.earn.per_amount_minor * BASIS_POINTS * BASIS_POINTS * BASIS_POINTS,
        minimum_spend_minor=program.earn.minimum_spend_minor,
        minimum_spend_text=format_money(program.earn.minimum_spend_minor, program.currency),
        carry_remainder=program.earn.carry_remainder,
        stamp_cards=program.stamp_cards,
        social=program.social,
        rewards={reward.id: reward for reward in program.rewards},
        reward_costs=tuple(sorted({reward.points for reward in program.rewards})),
        partners={partner.id: _partner_terms(partner, program.currency) for partner in program.partners},
        causes={cause.id: cause for cause in program.causes},
        referral=program.referral,
        challenges=program.challenges,
        visits_window=timedelta(days=max((c.within_days for c in program.challenges), default=0)),
        birthday_bonus_points=program.birthday_bonus_points,
        win_back=program.win_back,
        repeat_favourites=program.repeat_favourites,
        cross_sell=program.cross_sell,
        cross_sell_categories=cross_sell_categories,
        nudge_categories=cross_sell_categories.union(
            program.repeat_favourites.categories if program.repeat_favourites is not None else ()),
        holdout_bp=program.holdout_bp,
        expiry=program.expiry,
        lots=program.expiry is not None and program.expiry.by_age,
        tier_review=program.tier_review,
        tiers=tiers,
        tiers_above=tuple(tiers[index + 1:] for index in range(len(tiers))),
        tier_by_name={step.name: step for step in tiers},
        welcome_bonus_points=program.welcome_bonus_points,
        qualifying_months=program.qualifying_months,
        calendar_period=program.qualifying_period == "calendar",
        counts_visits=any(t.qualifying_visits is not None for t in program.tiers[1:]),
        counts_points=any(t.qualifying_points is not None for t in program.tiers[1:]),
        near_tier_threshold_bp=program.near_tier_threshold_bp,
        memberships={membership.id: membership for membership in program.memberships},
        campaigns=program.campaigns,
        campaigns_by_id={campaign.id: campaign for campaign in program.campaigns},
        dedup_window_ms=program.dedup_window_days * 86_400_000,
        dedup_window_days=program.dedup_window_days,
        return_window=timedelta(days=program.return_window_days),
        return_window_days=program.return_window_days,
        orders_kept=timedelta(days=program.return_window_days + program.late_return_days),
        pending=timedelta(days=program.pending_days),
        zone=UTC if program.time_zone == "UTC" else ZoneInfo(program.time_zone),
    )


def format_measure(measure: int, value: int, currency: str) -> str:
    """A tier measure's value in words: spend (0) as money, visits (1), points (2)."""
    if measure == 0:
        return format_money(value, currency)
    return f"{value:,} visit{'s' if value != 1 else ''}" if measure == 1 else format_points(value)


def _partner_terms(partner: Partner, currency: str) -> PartnerTerms:
    per = format_money(partner.earn.per_amount_minor, currency)
    return PartnerTerms(partner, partner.earn.points, partner.earn.per_amount_minor * BASIS_POINTS ** 3,
                        f"at {format_points(partner.earn.points)} per {per} at {partner.name}",
                        format_money(partner.earn.minimum_spend_minor, currency))


_CACHE_SIZE = 64
_cache: dict[int, CompiledProgram] = {}


def compiled(program: Program) -> CompiledProgram:
    """The compiled form of ``program``, built once per program object.

    Keyed by identity (a Program holds a dict, so it is not hashable); the cache
    keeps the program alive, so an id is never reused while its entry exists.
    """
    rules = _cache.get(id(program))
    if rules is not None and rules.program is program:
        return rules
    if len(_cache) >= _CACHE_SIZE:
        _cache.clear()
    rules = _cache[id(program)] = _compile(program)
    return rules
