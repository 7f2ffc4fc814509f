"""How a purchase earns points: one formula, one rounding, shared out to lines.

An order earns

    floor( sum over lines of amount_minor x earn.points x category_bp x tier_bp
           / (earn.per_amount_minor x 10,000 x 10,000) )

where lines in an excluded category count for nothing and a category without
a multiplier counts 10,000 bp (x1). Rounding down happens once per order, never
per line: splitting a basket into lines must not cost the member points, and
the program never pays for money that was not spent.

The tier is the member's tier *before* the purchase: the purchase that lifts a
member into Gold earns at the old rate, and the next one earns Gold's rate.
That keeps a purchase's points independent of how a tier threshold falls
inside it.

The order's points are then shared out to its lines by the largest-remainder
method (each line gets the floor of its exact share; the points left over go to
the lines with the largest remainders, ties to the earlier line), so line points
always add up to the order's points and a return can reverse exactly what the
returned line earned.
"""

from __future__ import annotations

from typing import NamedTuple

from processors.compiled import CompiledProgram, TierStep
from processors.events import PurchaseLine
from processors.money import format_money, format_multiplier, format_points
from processors.program import BASIS_POINTS


class Earning(NamedTuple):
    points: int
    line_points: list[int]
    qualifying_minor: list[int]  # per line: what counts towards the tier (0 for an excluded category)
    detail: str


def award_points(lines: tuple[PurchaseLine, ...], tier: TierStep, rules: CompiledProgram) -> Earning:
    weights = rules.category_weight_bp
    factor = tier.earn_factor
    shares: list[int] = []  # each line's exact points, times the divisor
    qualifying: list[int] = []
    plain = True
    for line in lines:
        bp = weights.get(line.category, BASIS_POINTS)
        if bp != BASIS_POINTS:
            plain = False
        shares.append(line.amount_minor * bp * factor)
        qualifying.append(line.amount_minor if bp else 0)
    divisor = rules.points_divisor
    points, rest = divmod(sum(shares), divisor)
    qualifying_total = sum(qualifying)
    result = f"{format_points(points)}, rounded down" if rest else format_points(points)
    detail = f"{format_money(qualifying_total, rules.currency)} {tier.rate_text}"
    if plain:
        detail = f"{detail} = {result}"
    else:
        multiplied, excluded = _category_terms(lines, rules)
        detail = f"{detail}{multiplied} = {result}{excluded}"
    return Earning(points, share_out(points, shares, divisor), qualifying, detail)


def share_out(points: int, shares: list[int], divisor: int) -> list[int]:
    """Split ``points`` over lines whose exact shares are ``shares / divisor`` (largest remainder)."""
    if len(shares) == 1:
        return [points]
    line_points = [share // divisor for share in shares]
    left = points - sum(line_points)
    if left:
        # sorted() is stable, so among equal remainders the earlier line comes first.
        by_remainder = sorted(range(len(shares)), key=lambda i: shares[i] % divisor, reverse=True)
        for i in by_remainder[:left]:
            line_points[i] += 1
    return line_points


def _category_terms(lines: tuple[PurchaseLine, ...], rules: CompiledProgram) -> tuple[str, str]:
    """Words for the categories that do not earn x1.

    ``(", shoes x2 on 500.00 SEK", " (gift_card 200.00 SEK earns no points)")``
    """
    amounts: dict[str, int] = {}
    for line in lines:
        amounts[line.category] = amounts.get(line.category, 0) + line.amount_minor
    weights = rules.category_weight_bp
    multiplied = [
        f", {category} {format_multiplier(weights[category])} on {format_money(amount, rules.currency)}"
        for category, amount in amounts.items()
        if weights.get(category, 0) not in (0, BASIS_POINTS)
    ]
    excluded = [
        f"{category} {format_money(amount, rules.currency)}"
        for category, amount in amounts.items()
        if weights.get(category) == 0
    ]
    return "".join(multiplied), f" ({', '.join(excluded)} earns no points)" if excluded else ""
