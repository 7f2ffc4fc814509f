"""The program's rules as a validated configuration.

Rates are integer ratios and multipliers are basis points (10,000 = 1x), so
every computation stays in integers. Each mechanic is a section a program can
leave out: an empty section switches the mechanic off.

Every number is an integer as written (``50.00`` is refused, not read as 50 minor
units) and has an upper bound far above any real program's, low enough that no
output outgrows the contracts' 64-bit longs: a 100 million order (10^10 minor
units) at the highest rate and multipliers earns about 10^16 points, with
campaigns, against a limit near 9.2 x 10^18.
"""

from __future__ import annotations

import functools
from typing import Annotated, Literal
from zoneinfo import available_timezones

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationInfo,
    field_validator,
    model_validator,
)

BASIS_POINTS = 10_000
MAX_POINTS = 10**9  # a bonus, a reward's cost, a budget, a threshold: a billion points
MAX_MINOR = 10**12  # a fee, a spend threshold, a point's value: ten billion in the currency
MAX_MULTIPLIER_BP = 10 * BASIS_POINTS  # x10
MAX_POINTS_A_MINOR_UNIT = 100  # the highest earn rate
MAX_DAYS = 36_600  # a hundred years, in days, months or periods
MAX_COUNT = 10**6  # visits, stamps, referrals

Points = Annotated[int, Strict(), Field(ge=0, le=MAX_POINTS)]
PositivePoints = Annotated[int, Strict(), Field(gt=0, le=MAX_POINTS)]
Minor = Annotated[int, Strict(), Field(ge=0, le=MAX_MINOR)]
PositiveMinor = Annotated[int, Strict(), Field(gt=0, le=MAX_MINOR)]
Multiplier = Annotated[int, Strict(), Field(gt=0, le=MAX_MULTIPLIER_BP)]
Share = Annotated[int, Strict(), Field(ge=0, le=BASIS_POINTS)]  # a share in basis points, at most all
Days = Annotated[int, Strict(), Field(ge=0, le=MAX_DAYS)]
PositiveDays = Annotated[int, Strict(), Field(gt=0, le=MAX_DAYS)]
Count = Annotated[int, Strict(), Field(ge=0, le=MAX_COUNT)]
PositiveCount = Annotated[int, Strict(), Field(gt=0, le=MAX_COUNT)]

Name = Field(min_length=1, pattern=r"^[A-Za-z0-9_.:-]+$")


class _Rules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EarnRate(_Rules):
    """``points`` per ``per_amount_minor`` spent, e.g. 1 point per 1000 öre (10 kr).

    An order whose qualifying amount is below ``minimum_spend_minor`` earns no
    points (it still counts towards tiers). With ``carry_remainder`` the
    fraction of a point an order leaves is kept and added to the next order,
    instead of being rounded away.
    """

    points: PositivePoints = 1
    per_amount_minor: PositiveMinor = 1000
    minimum_spend_minor: Minor = 0
    carry_remainder: bool = False

    @model_validator(mode="after")
    def _a_rate_that_fits(self) -> EarnRate:
        if self.points > MAX_POINTS_A_MINOR_UNIT * self.per_amount_minor:
            raise ValueError(f"at most {MAX_POINTS_A_MINOR_UNIT} points a minor unit, got {self.points} per "
                             f"{self.per_amount_minor}")
        return self


MEASURES = ("qualifying_spend_minor", "qualifying_visits", "qualifying_points")


class TierPolicy(_Rules):
    """A tier, reached by qualifying spend, visits (purchases) or points earned on purchases in the period.

    A tier may set any of the three: reaching one of them is enough (e.g.
    10,000 SEK or 25 visits). The first tier, where everyone starts, sets none.
    """

    name: str = Field(min_length=1)
    qualifying_spend_minor: Minor | None = None
    qualifying_visits: Count | None = None
    qualifying_points: Points | None = Field(default=None, description="points earned, not the balance")
    earn_multiplier_bp: Multiplier = BASIS_POINTS
    perks: tuple[str, ...] = Field(default=(), description="e.g. free_shipping, early_sale_access")


class Membership(_Rules):
    """Paid membership: a fee buys ``tier`` (and its perks) for ``months``; it lapses unless renewed.

    While it runs the tier is a floor: reviews never take the member below it.
    """

    id: str = Name
    name: str = Field(min_length=1)
    fee_minor: PositiveMinor
    tier: str = Field(min_length=1)
    months: PositiveDays = 12
    warn_days: Days = Field(default=14, description="a reminder this many days before it lapses")


class CampaignTarget(_Rules):
    """Who and what a campaign is for; a list left empty means any."""

    tiers: frozenset[str] = frozenset()
    segments: frozenset[str] = Field(default=frozenset(), description="any of the member's segments")
    stores: frozenset[str] = frozenset()
    channels: frozenset[Literal["web", "pos", "card", "app"]] = frozenset()


class Campaign(_Rules):
    """A time-boxed offer: extra points on purchases from ``starts`` until ``ends`` by the members it targets.

    ``multiplier_bp`` multiplies the purchase's points (20,000: double points,
    the extra half being the campaign's); ``bonus_points`` adds a fixed bonus per
    purchase of at least ``minimum_spend_minor``. A member gets at most
    ``member_budget_points`` from the campaign, and is told when that is spent;
    all members together get at most ``budget_points``. With a total budget the
    points come a moment after the purchase, once the budget has granted them.
    """

    id: str = Name
    name: str = Field(min_length=1, description="What the member sees, e.g. 'Black Friday double points'")
    starts: AwareDatetime
    ends: AwareDatetime
    target: CampaignTarget = CampaignTarget()
    multiplier_bp: Multiplier = Field(default=BASIS_POINTS, ge=BASIS_POINTS)
    bonus_points: Points = 0
    minimum_spend_minor: Minor = 0
    member_budget_points: PositivePoints | None = None
    budget_points: PositivePoints | None = Field(default=None, description="points in total, for all members together")

    @model_validator(mode="after")
    def _pays_something_for_a_while(self) -> Campaign:
        if self.ends <= self.starts:
            raise ValueError(f"ends: must be after starts ({self.starts.isoformat()})")
        if self.multiplier_bp == BASIS_POINTS and not self.bonus_points:
            raise ValueError("multiplier_bp: set a multiplier above 10000 (x1) or bonus_points, or the campaign "
                             "gives nothing")
        return self


class TierReview(_Rules):
    """Downgrades happen at a period's end, never on the spot.

    At each ``at`` end, a member whose rolling qualifying spend no longer
    supports their tier keeps it for ``grace_periods`` more reviews, then moves
    down one step (``one_step``) or straight to the tier the spend supports
    (``to_qualified``).
    """

    at: Literal["month_end", "year_end"] = "year_end"
    policy: Literal["one_step", "to_qualified"] = "one_step"
    grace_periods: Days = 0


class StampCard(_Rules):
    """N stamps give a reward and the card starts again; several cards can run at once.

    ``per: purchase`` gives one stamp per order with a qualifying line, ``per:
    item`` one stamp per qualifying unit. A paid line (above 0.00) of the
    ``categories`` qualifies; with no ``categories`` every paid line does.
    """

    name: str = Name
    stamps: PositiveCount = Field(le=1000)
    per: Literal["purchase", "item"] = "purchase"
    categories: frozenset[str] = frozenset()
    reward: str = Field(min_length=1, description="What a full card gives, e.g. free_coffee")


class SocialPoints(_Rules):
    """Points for what members do on social platforms, by platform and action.

    A post is paid once whatever is done with it, and a member earns at most
    ``daily_cap_points`` a day (in the program's time zone) from social actions.
    """

    points: dict[str, dict[Literal["share", "tag", "follow"], Points]] = Field(
        description="platform -> action -> points, e.g. {instagram: {share: 20, tag: 10, follow: 50}}"
    )
    daily_cap_points: PositivePoints | None = None


class CatalogueReward(_Rules):
    """Something a member can spend points on; a ``partner_voucher`` is spent at a coalition partner."""

    id: str = Name
    name: str = Field(min_length=1, description="What the member sees, e.g. 'A free drink of your choice'")
    kind: Literal["discount", "free_product", "free_shipping", "early_access", "partner_voucher"]
    points: PositivePoints
    partner: str | None = Field(default=None, description="the partner a partner_voucher is spent at")

    @model_validator(mode="after")
    def _voucher_names_its_partner(self) -> CatalogueReward:
        if (self.kind == "partner_voucher") != (self.partner is not None):
            raise ValueError("a partner_voucher names its partner, and only a partner_voucher does")
        return self


class Partner(_Rules):
    """A coalition partner: members earn there at its own rate and spend points on its vouchers.

    ``point_value_minor`` is what one point is worth in the program's currency:
    the partner pays that for each point its customers earn, and is paid that
    for each point members spend on its vouchers.
    """

    id: str = Name
    name: str = Field(min_length=1)
    earn: EarnRate
    point_value_minor: PositiveMinor


class ReferralRewards(_Rules):
    """A referred friend's first purchase of at least ``minimum_purchase_minor`` rewards both.

    A referrer is rewarded once per friend and at most ``cap_per_referrer``
    times in any ``cap_period_days``.
    """

    referrer_points: Points
    friend_points: Points
    minimum_purchase_minor: Minor = 0
    cap_per_referrer: PositiveCount | None = None
    cap_period_days: PositiveDays = 365


class Challenge(_Rules):
    """Gamification: ``visits`` purchases within ``within_days`` earn a badge and bonus points, once."""

    id: str = Name
    name: str = Field(min_length=1, description="e.g. 'Three visits in a week'")
    visits: PositiveCount = Field(le=100)
    within_days: PositiveDays
    badge: str = Field(min_length=1)
    bonus_points: Points = 0


class Expiry(_Rules):
    """When points expire: by age, after inactivity, or both; the oldest points always go first.

    By age, each point expires ``after_days`` days after the day it was earned,
    or (``at``) at the end of the month or year it was earned in, or
    ``periods_later`` months or years after that end. After ``inactive_months``
    without activity every point left expires. A trigger warns ``warn_days`` ahead.
    """

    after_days: PositiveDays | None = Field(default=None, description="each point expires this many days after earning")
    at: Literal["month_end", "year_end"] | None = Field(default=None, description="points expire at a period's end")
    periods_later: Days = Field(default=0, description="with at: that many months or years later")
    inactive_months: PositiveDays | None = None
    warn_days: Days = 14

    @model_validator(mode="after")
    def _one_way_by_age(self) -> Expiry:
        if self.after_days is not None and self.at is not None:
            raise ValueError("at: points expire either after_days after they were earned or at a period's end, "
                             "not both: remove one")
        if self.periods_later and self.at is None:
            raise ValueError("periods_later: counts periods after at's end; set at (month_end or year_end)")
        if self.after_days is None and self.at is None and self.inactive_months is None:
            raise ValueError("set after_days, at or inactive_months (or remove expiry: then points never expire)")
        return self

    @property
    def by_age(self) -> bool:
        return self.after_days is not None or self.at is not None


class WinBack(_Rules):
    """A ``win_back`` trigger when a member who has bought goes ``inactive_days`` without buying, once a spell."""

    inactive_days: PositiveDays


class RepeatFavourites(_Rules):
    """A ``repeat_favourite`` trigger on the ``orders``-th order with the same SKU, once per SKU.

    Only SKUs of ``categories`` count, so a member's memory of them stays small.
    """

    orders: PositiveCount = Field(ge=2, le=100)
    categories: frozenset[str] = Field(min_length=1, description="e.g. [coffee, tea]")


class CrossSell(_Rules):
    """A ``cross_sell`` trigger when a member buys from ``bought`` and has never bought from ``suggest``, once."""

    bought: str = Field(min_length=1, description="a category, e.g. bikes")
    suggest: str = Field(min_length=1, description="a category, e.g. helmets")

    @model_validator(mode="after")
    def _suggests_something_else(self) -> CrossSell:
        if self.suggest == self.bought:
            raise ValueError(f"suggest: {self.suggest} is the category bought; suggest another one")
        return self


class Cause(_Rules):
    """A charity or cause members can give points to."""

    id: str = Name
    name: str = Field(min_length=1)


class Program(_Rules):
    name: str = Field(min_length=1)
    currency: str
    earn: EarnRate = EarnRate()
    category_multipliers_bp: dict[str, Multiplier] = {}
    sku_multipliers_bp: dict[str, Multiplier] = Field(default={}, description="beat the line's category multiplier")
    payment_multipliers_bp: dict[str, Multiplier] = Field(
        default={}, description="payment method -> extra multiplier, e.g. {nordic_card: 15000} for x1.5"
    )
    excluded_categories: frozenset[str] = frozenset()
    excluded_skus: frozenset[str] = frozenset()
    welcome_bonus_points: Points = 0
    tiers: tuple[TierPolicy, ...] = (TierPolicy(name="Member"),)
    qualifying_months: PositiveDays = 12
    qualifying_period: Literal["rolling", "calendar"] = Field(
        default="rolling", description="rolling: the last qualifying_months months; calendar: from January in blocks"
    )
    memberships: tuple[Membership, ...] = Field(default=(), description="paid memberships: a fee buys a tier")
    campaigns: tuple[Campaign, ...] = ()
    tier_review: TierReview | None = Field(default=None, description="when and how members move down; never if unset")
    near_tier_threshold_bp: Share = Field(default=8000, gt=0)
    stamp_cards: tuple[StampCard, ...] = ()
    social: SocialPoints | None = None
    rewards: tuple[CatalogueReward, ...] = Field(default=(), description="the reward catalogue, for redemptions")
    partners: tuple[Partner, ...] = Field(default=(), description="coalition partners where members earn and spend")
    causes: tuple[Cause, ...] = Field(default=(), description="causes members can donate points to")
    referral: ReferralRewards | None = None
    challenges: tuple[Challenge, ...] = ()
    birthday_bonus_points: Points = 0
    win_back: WinBack | None = None
    repeat_favourites: RepeatFavourites | None = None
    cross_sell: tuple[CrossSell, ...] = ()
    expiry: Expiry | None = Field(default=None, description="points never expire if unset")
    time_zone: str = Field(
        default="UTC", description="the IANA time zone (e.g. Europe/Stockholm) days, months and years are counted "
        "in: birthdays, expiry at a month's or year's end, tier periods and daily caps"
    )
    dedup_window_days: PositiveDays = 60
    return_window_days: PositiveDays = 60
    late_return_days: Days = Field(
        default=7, description="an order is kept this many days past its return window, so that a return made "
        "inside the window that reaches the engine late (after a later purchase) is still taken"
    )
    pending_days: Days = Field(
        default=0, description="a purchase's points can be spent this many days after it, once it can't be returned"
    )
    point_value_minor: Minor = Field(
        default=0, description="what a point costs the program, in minor units of its currency (0: not valued); "
        "finance reads the liability's value and the reward cost rate with it"
    )
    holdout_bp: Share = Field(
        default=0, le=BASIS_POINTS // 2, description="the share of members, picked at random, who get no campaign "
        "points and no offers: the control group campaign ROI is measured against (0: none; at most half)"
    )
    gross_margin_bp: Share = Field(
        default=0, description="the retailer's gross margin on net sales, for campaign ROI "
        "(0: not given)"
    )
    return_after_spend: Literal["negative_balance", "cap_at_zero"] = Field(
        default="negative_balance", description="a return of points already spent: take them all, or only down to zero"
    )

    @field_validator("currency")
    @classmethod
    def _iso_currency(cls, currency: str) -> str:
        if len(currency) != 3 or not currency.isascii() or not currency.isalpha() or not currency.isupper():
            raise ValueError(f"{currency!r} is not an ISO 4217 code: write three capital letters, e.g. SEK or EUR")
        return currency

    @field_validator("tiers")
    @classmethod
    def _tiers_ascend_from_the_base(cls, tiers: tuple[TierPolicy, ...]) -> tuple[TierPolicy, ...]:
        if not tiers:
            raise ValueError("list at least the base tier, where everyone starts")
        base, *higher = tiers
        if any(getattr(base, measure) for measure in MEASURES):
            raise ValueError(f"the first tier ({base.name}) is the base tier where everyone starts: "
                             "it needs no qualifying threshold")
        for tier in higher:
            if all(getattr(tier, measure) is None for measure in MEASURES):
                raise ValueError(f"{tier.name} needs a threshold: {', '.join(MEASURES)} (any one reached is enough)")
        for measure in MEASURES:
            values = [value for t in higher if (value := getattr(t, measure)) is not None]
            if values != sorted(set(values)):
                raise ValueError(f"list tiers from lowest to highest {measure}, each higher than the last")
        _distinct("tier", [t.name for t in tiers], "name")
        return tiers

    @model_validator(mode="after")
    def _memberships_buy_known_tiers(self) -> Program:
        names = [t.name for t in self.tiers]
        for membership in self.memberships:
            if membership.tier not in names:
                raise ValueError(f"memberships: {membership.id} buys tier {membership.tier}, which is not in tiers "
                                 f"({', '.join(names)})")
        for campaign in self.campaigns:
            unknown = sorted(campaign.target.tiers.difference(names))
            if unknown:
                raise ValueError(f"campaigns: {campaign.id} targets tier {', '.join(unknown)}, which is not in "
                                 f"tiers ({', '.join(names)})")
        if self.qualifying_period == "calendar" and 12 % self.qualifying_months:
            raise ValueError(f"qualifying_months: calendar periods split the year evenly (1, 2, 3, 4, 6 or 12), "
                             f"got {self.qualifying_months}")
        return self

    @field_validator("time_zone")
    @classmethod
    def _a_known_time_zone(cls, name: str) -> str:
        """An IANA zone, the same on every host: not ``localtime`` (the host's own), nor a region's folder."""
        if name != "UTC" and (name not in _iana_zones() or name in _HOST_ZONES):
            raise ValueError(f"{name!r} is not a time zone: write an IANA name, e.g. Europe/Stockholm, "
                             "America/New_York or UTC")
        return name

    @field_validator("stamp_cards", "rewards", "causes", "challenges", "partners", "memberships", "campaigns")
    @classmethod
    def _each_has_its_own_id(cls, items: tuple[BaseModel, ...], info: ValidationInfo) -> tuple[BaseModel, ...]:
        key = "name" if info.field_name == "stamp_cards" else "id"
        _distinct(f"entry of {info.field_name}", [getattr(item, key) for item in items], key)
        return items

    @model_validator(mode="after")
    def _vouchers_name_known_partners(self) -> Program:
        known = {p.id for p in self.partners}
        unknown = sorted({r.partner for r in self.rewards if r.partner is not None and r.partner not in known})
        if unknown:
            raise ValueError(f"rewards: partner {', '.join(unknown)} is not in partners "
                             f"(known: {', '.join(sorted(known)) or 'none'})")
        return self

    @model_validator(mode="after")
    def _windows_fit(self) -> Program:
        if self.dedup_window_days < self.return_window_days:
            raise ValueError(f"dedup_window_days: must be at least return_window_days "
                             f"({self.return_window_days}), got {self.dedup_window_days}")
        if self.pending_days > self.return_window_days:
            raise ValueError(f"pending_days: points can be pending at most the return window "
                             f"({self.return_window_days} days), got {self.pending_days}")
        expiry = self.expiry
        if self.pending_days and expiry is not None and (expiry.after_days is not None or expiry.at is not None):
            # the shortest life a point can have: earned at the very end of a month (28 days) or year (365)
            shortest = (expiry.after_days if expiry.after_days is not None
                        else expiry.periods_later * (28 if expiry.at == "month_end" else 365))
            if shortest <= self.pending_days:
                raise ValueError(f"expiry: some points would expire while still pending (pending_days: "
                                 f"{self.pending_days}), never to be spent: "
                                 + (f"make after_days more than {self.pending_days}" if expiry.after_days is not None
                                    else "raise periods_later") + ", or lower pending_days")
        return self

    def tier(self, name: str) -> TierPolicy:
        for policy in self.tiers:
            if policy.name == name:
                return policy
        raise KeyError(name)


_HOST_ZONES = frozenset({"localtime", "posixrules", "Factory"})  # files beside the zones that are none of them


@functools.cache
def _iana_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _distinct(kind: str, names: list[str], key: str) -> None:
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"each {kind} needs its own {key}; repeated: {', '.join(repeated)}")
