"""How a purchase earns points: one formula, one rounding, shared out to lines.

An order earns

    floor( (sum over lines of amount_minor x earn.points x line_bp x tier_bp x payment_bp + carried)
           / (earn.per_amount_minor x 10,000 x 10,000 x 10,000) )

where ``line_bp`` is the SKU's multiplier, else the category's, else 10,000 bp
(x1), and 0 for an excluded SKU or category (at a coalition partner, the
partner's rate takes the place of ``earn``); ``payment_bp`` is the multiplier
of the payment method (x1 if it has none). Rounding down happens once per
order, never per line: splitting a basket into lines must not cost the member
points, and the program never pays for money that was not spent. A program
with ``carry_remainder`` keeps what rounding left (``carried``) for the next
order instead. An order below ``minimum_spend_minor`` earns nothing.

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

from dataclasses import dataclass

from processors.compiled import CompiledProgram, PartnerTerms, TierStep
from processors.events import PurchaseLine
from processors.money import format_money, format_points
from processors.program import BASIS_POINTS


@dataclass(slots=True)  # not a NamedTuple, whose __new__ is a Python function around tuple's: made on every purchase
class Earning:
    points: int
    line_points: list[int]
    qualifying_minor: list[int]  # per line: what counts towards the tier (0 for an excluded category)
    spent_minor: int  # the order's qualifying spend: the sum of ``qualifying_minor``
    detail: str
    remainder: int  # what rounding left, times the divisor: carried to the next order if the program says so


def award_points(lines: tuple[PurchaseLine, ...], tier: TierStep, payment_method: str | None, carried: int,
                 rules: CompiledProgram, partner: PartnerTerms | None = None) -> Earning:
    """The order's points; ``carried`` is the remainder an earlier order left (0 unless carried over).

    At a coalition ``partner`` the partner's rate and minimum take the place of
    the program's; nothing is carried from or to a partner's order.
    """
    weights, sku_weights = rules.category_weight_bp, rules.sku_weight_bp
    payment = rules.payment_terms.get(payment_method) if payment_method is not None else None
    if partner is None:
        factor, divisor, rate = tier.earn_factor, rules.points_divisor, tier.rate_text
        minimum, minimum_text, carry = rules.minimum_spend_minor, rules.minimum_spend_text, rules.carry_remainder
    else:
        factor, divisor = partner.points * tier.earn_multiplier_bp, partner.points_divisor
        rate = f"{partner.rate_text}, {tier.name} {tier.multiplier_text}"
        minimum, minimum_text, carry = partner.partner.earn.minimum_spend_minor, partner.minimum_spend_text, False
    if payment is not None:
        factor *= payment[0]
        rate += payment[1]
    else:
        factor *= BASIS_POINTS
    shares: list[int] = []  # each line's exact points, times the divisor
    qualifying: list[int] = []
    special: list[str] = []  # categories or SKUs that earn other than x1, in line order
    for line in lines:
        bp = sku_weights.get(line.sku) if sku_weights else None
        if bp is None:
            bp = weights.get(line.category, BASIS_POINTS)
            if bp != BASIS_POINTS:
                special.append(line.category)
        elif bp != BASIS_POINTS:
            special.append(line.sku)
        shares.append(line.amount_minor * bp * factor)
        qualifying.append(line.amount_minor if bp else 0)
    spent = sum(qualifying)
    money = format_money(spent, rules.currency)
    if spent < minimum:
        detail = f"{money} is under the {minimum_text} minimum for points = 0 points"
        return Earning(0, [0] * len(shares), qualifying, spent, detail, carried)
    points, rest = divmod(sum(shares) + (carried if carry else 0), divisor)
    result = format_points(points)
    if carry:
        if carried:
            result += ", with what earlier orders left over"
    elif rest:
        result += ", rounded down"
    if special:
        multiplied, excluded = rules.category_terms(tuple(special))
        detail = f"{money} {rate}{multiplied} = {result}{excluded}"
    else:
        detail = f"{money} {rate} = {result}"
    line_points = [points] if len(shares) == 1 else share_out(points, shares, divisor)
    return Earning(points, line_points, qualifying, spent, detail, rest if carry else carried)


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
