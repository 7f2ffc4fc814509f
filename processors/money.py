"""Money and multipliers written the way a member reads them, from exact integers.

Amounts live in minor units (öre, cents) and multipliers in basis points, so the
text shown in a ledger entry is derived here and nowhere else.
"""

from __future__ import annotations

from processors.program import BASIS_POINTS

# ISO 4217 currencies whose minor unit is not a hundredth; every other code has two decimals.
_MINOR_DIGITS = {
    "BIF": 0,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "ISK": 0,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "PYG": 0,
    "RWF": 0,
    "UGX": 0,
    "UYI": 0,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
    "BHD": 3,
    "IQD": 3,
    "JOD": 3,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "TND": 3,
}


def minor_digits(currency: str) -> int:
    """How many decimals the currency's minor unit has (2 unless ISO 4217 says otherwise)."""
    return _MINOR_DIGITS.get(currency, 2)


# "00" to "99": a table is several times faster than formatting ``:02d`` on every amount.
_TWO_DIGITS = tuple(f"{n:02d}" for n in range(100))


def format_money(amount_minor: int, currency: str) -> str:
    """``123400, "SEK"`` -> ``"1,234.00 SEK"``; negative amounts keep their sign."""
    if amount_minor < 0:
        return "-" + format_money(-amount_minor, currency)
    digits = _MINOR_DIGITS.get(currency, 2)
    if digits == 2:
        whole, cents = divmod(amount_minor, 100)
        if whole < 1000:  # no thousands separator to write: plain str() is the same and much faster than ``:,``
            return f"{whole}.{_TWO_DIGITS[cents]} {currency}"
        return f"{whole:,}.{_TWO_DIGITS[cents]} {currency}"
    if digits == 0:
        return f"{amount_minor:,} {currency}"
    whole, fraction = divmod(amount_minor, 10**digits)
    return f"{whole:,}.{fraction:0{digits}d} {currency}"


def format_multiplier(multiplier_bp: int) -> str:
    """``15000`` -> ``"x1.5"``: basis points as the multiplier a member recognises."""
    whole, fraction = divmod(multiplier_bp, BASIS_POINTS)
    if fraction == 0:
        return f"x{whole}"
    return f"x{whole}.{fraction:04d}".rstrip("0")


def format_percent(basis_points: int) -> str:
    """``425`` -> ``"4.25 %"``: a rate in basis points, as computed (rounded down)."""
    return f"{basis_points // 100}.{basis_points % 100:02d} %"


def format_points(points: int) -> str:
    if -1000 < points < 1000:  # most entries: no thousands separator, and str() is much faster than ``:,``
        return "1 point" if points == 1 else "-1 point" if points == -1 else f"{points} points"
    return f"{points:,} points"
