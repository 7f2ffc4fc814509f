"""The program's rules as a validated configuration.

Rates are integer ratios and multipliers are basis points (10,000 = 1x), so
every computation stays in integers.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveInt, model_validator

BASIS_POINTS = 10_000


class _Rules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EarnRate(_Rules):
    """``points`` per ``per_amount_minor`` spent, e.g. 1 point per 1000 öre (10 kr)."""

    points: PositiveInt = 1
    per_amount_minor: PositiveInt = 1000


class TierPolicy(_Rules):
    name: str = Field(min_length=1)
    qualifying_spend_minor: NonNegativeInt
    earn_multiplier_bp: PositiveInt = BASIS_POINTS


class Program(_Rules):
    name: str = Field(min_length=1)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    earn: EarnRate = EarnRate()
    category_multipliers_bp: dict[str, PositiveInt] = {}
    excluded_categories: frozenset[str] = frozenset()
    welcome_bonus_points: NonNegativeInt = 0
    tiers: tuple[TierPolicy, ...] = (TierPolicy(name="Member", qualifying_spend_minor=0),)
    qualifying_months: PositiveInt = 12
    near_tier_threshold_bp: PositiveInt = Field(default=8000, le=BASIS_POINTS)
    dedup_window_days: PositiveInt = 60
    return_window_days: PositiveInt = 60

    @model_validator(mode="after")
    def _tiers_ascend_from_zero(self) -> Program:
        spends = [t.qualifying_spend_minor for t in self.tiers]
        if not spends or spends[0] != 0:
            raise ValueError("tiers: the first tier is the base tier and needs qualifying_spend_minor 0")
        if spends != sorted(set(spends)):
            raise ValueError(
                "tiers: list them from lowest to highest qualifying_spend_minor, each higher than the last"
            )
        if self.dedup_window_days < self.return_window_days:
            raise ValueError("dedup_window_days must be at least return_window_days")
        return self

    def tier(self, name: str) -> TierPolicy:
        for policy in self.tiers:
            if policy.name == name:
                return policy
        raise KeyError(name)
