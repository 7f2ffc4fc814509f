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
from processors.money import format_money, format_points
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
    special: list[str] = []  # categories that earn other than x1, in line order
    for line in lines:
        bp = weights.get(line.category, BASIS_POINTS)
        if bp != BASIS_POINTS:
            special.append(line.category)
        shares.append(line.amount_minor * bp * factor)
        qualifying.append(line.amount_minor if bp else 0)
    divisor = rules.points_divisor
    points, rest = divmod(sum(shares), divisor)
    result = format_points(points)
    if rest:
        result += ", rounded down"
    money = format_money(sum(qualifying), rules.currency)
    if special:
        multiplied, excluded = rules.category_terms(tuple(special))
        detail = f"{money} {tier.rate_text}{multiplied} = {result}{excluded}"
    else:
        detail = f"{money} {tier.rate_text} = {result}"
    line_points = [points] if len(shares) == 1 else share_out(points, shares, divisor)
    return Earning(points, line_points, qualifying, detail)


def share_out(points: int, shares: list[int], divisor: int) -> list[int]:
    """Split ``points`` over lines whose exact shares are ``shares / divisor`` (largest remainder)."""
    line_points = [share // divisor for share in shares]
    left = points - sum(line_points)
    if left:
        remainders = [share % divisor for share in shares]
        # sorted() is stable, also in reverse, so among equal remainders the earlier line comes first.
        for i in sorted(range(len(shares)), key=remainders.__getitem__, reverse=True)[:left]:
            line_points[i] += 1
    return line_points
