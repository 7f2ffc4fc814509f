"""Impossible values, caught at the edge, and card numbers, never let through.

``problems`` lists what makes an event impossible on its own (no member state
needed), naming the field, so ingest can dead-letter it with a reason the
sender can act on. ``decide`` assumes events have passed it. Ids are
matched exactly, so one padded with white space, holding a control character
or pages long is refused rather than taken for another member or order.

Card numbers (PANs) must never be stored or forwarded. A PAN is 13-19 digits,
often written in groups with spaces or dashes, whose last digit is the Luhn
check digit; ``mask_pans`` keeps the last four digits and replaces the others
with ``*`` without changing the length, so masked Avro bytes still decode.
"""

from __future__ import annotations

import re
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from typing import Final

from processors.events import (
    BUDGET_EVENTS,
    CAMPAIGN_KEY_PREFIX,
    ENGINE_MADE_EVENTS,
    CardChange,
    Donation,
    MemberEnrolled,
    MemberErased,
    MemberEvent,
    MemberSegments,
    MembershipPaid,
    Purchase,
    PurchaseLine,
    Redemption,
    RedemptionCancelled,
    Referral,
    ReferralNews,
    Return,
    ReturnedLine,
    SocialShare,
    SurveyAnswered,
    TierAssigned,
)

_CURRENCY = re.compile(r"[A-Z]{3}")
_BIRTHDAY = re.compile(r"(\d\d)-(\d\d)")
MAX_SURVEY_SCORE: Final = 10  # the Net Promoter question's scale is 0 to 10
_DAYS_IN_MONTH: Final = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # 02-29 is a birthday too

# A run of digits, single spaces or dashes allowed between them, not inside a longer run of digits.
# A card number stands on its own: digits glued to letters are part of a token or an id.
_PAN_TEXT = re.compile(r"(?<![0-9A-Za-z])[0-9](?:[ -]?[0-9]){12,20}(?![0-9A-Za-z])")
_PAN_BYTES = re.compile(rb"(?<![0-9])[0-9](?:[ -]?[0-9]){12,20}(?![0-9])")
_SEPARATORS = " -"

# The times an event may carry. The rules add and subtract days, months and years, and ClickHouse keeps times
# as DateTime64 (1900 to 2299) and days as Date (1970 to 2149): a year 1 or 9999 crashed the rules, and a year
# 2500 would be stored wrong. A retailer's history goes back decades, not to the Unix epoch: the epoch itself is the
# time a producer sends when it left one unset (a zero), so the earliest accepted is a millisecond after it.
EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
EARLIEST: Final = EPOCH + timedelta(milliseconds=1)
LATEST: Final = datetime(2100, 1, 1, tzinfo=UTC) - timedelta(milliseconds=1)

# Ids (member_id, event_id, order_id, sku, a reward's id, ...) are matched exactly: " anna " would be another member
# than "anna", and no source means one that is padded, holds a line break or runs to pages. Every text field is an
# id but words for people and values with a format of their own.
MAX_ID_LENGTH: Final = 200

# Amounts and points an event may carry: far above any real order (a trillion in a currency with two decimals), far
# below the contracts' 64-bit integers. The rules add them up (a member's spend, balance, a partner's settlement) and
# multiply them by the earn rates: an event of 2^63-1 minor units overflows those sums, and the member's state could
# no longer be stored.
MAX_AMOUNT: Final = 10**14
_NOT_IDS: Final = frozenset({"note", "reason", "birthday", "currency"})


def problems(event: MemberEvent) -> list[str]:
    """Everything impossible about ``event`` on its own; empty when it may be applied."""
    found = [f"{name} is empty" for name in ("event_id", "member_id", "source") if not getattr(event, name)]
    if event.member_id.startswith(CAMPAIGN_KEY_PREFIX) != isinstance(event, BUDGET_EVENTS):
        found.append(f"member_id {event.member_id}: ids starting with {CAMPAIGN_KEY_PREFIX} are campaigns' "
                     "budget keys, for the engine's own campaign claims and releases only")
    offset = event.occurred_at.utcoffset()
    if offset is None:
        found.append("occurred_at has no time zone: send event times in UTC")
    elif offset != timedelta(0):
        found.append(f"occurred_at is at UTC{event.occurred_at.strftime('%z')}: send event times in UTC")
    if not isinstance(event, ENGINE_MADE_EVENTS):  # its ids are an input's, checked, with a suffix: they may run longer
        found += _id_problems(event, "")
    found += [_out_of_range(name, when) for name in _time_fields(type(event))
              if isinstance(when := getattr(event, name), datetime) and when.utcoffset() is not None
              and not EARLIEST <= when <= LATEST]
    if isinstance(event, Purchase):
        found += _purchase_problems(event)
    elif isinstance(event, Return):
        found += _return_problems(event)
    elif isinstance(event, MemberEnrolled):
        if event.birthday is not None and not _is_birthday(event.birthday):
            found.append(f"birthday {event.birthday!r} is not a day of the year as MM-DD")
        if event.referred_by is not None and event.referred_by == event.member_id:
            found.append("referred_by is the member itself")
    elif isinstance(event, CardChange):
        if not event.card_token:
            found.append("card_token is empty")
        elif looks_like_pan(event.card_token):
            found.append(
                f"card_token {mask_pans(event.card_token)} is a card number: send the token, never the number"
            )
    elif isinstance(event, Referral):
        if not event.referral_code:
            found.append("referral_code is empty")
        if event.friend_member_id is not None and event.friend_member_id == event.member_id:
            found.append("friend_member_id is the referring member itself")
    elif isinstance(event, SocialShare):
        found += [f"{name} is empty" for name in ("platform", "post_id") if not getattr(event, name)]
    elif isinstance(event, Redemption):
        found += [f"{name} is empty" for name in ("redemption_id", "reward") if not getattr(event, name)]
    elif isinstance(event, RedemptionCancelled) and not event.redemption_id:
        found.append("redemption_id is empty")
    elif isinstance(event, ReferralNews):
        found += [f"{name} is empty" for name in ("friend_member_id", "order_id") if not getattr(event, name)]
    elif isinstance(event, Donation):
        if not event.cause:
            found.append("cause is empty")
        if event.points <= 0:
            found.append(f"points must be positive, got {event.points}")
        found += _too_large("points", event.points)
    elif isinstance(event, MembershipPaid):
        if not event.membership:
            found.append("membership is empty")
        if event.fee_minor <= 0:
            found.append(f"fee_minor must be positive, got {event.fee_minor}")
        found += _currency_problems(event.currency) + _too_large("fee_minor", event.fee_minor)
    elif isinstance(event, MemberSegments):
        found += [f"segments[{i}] is empty" for i, segment in enumerate(event.segments) if not segment]
    elif isinstance(event, MemberErased) and not event.reason:
        found.append("reason is empty: say why the member is erased (kept with the closing ledger entry)")
    elif isinstance(event, SurveyAnswered):
        if not event.survey:
            found.append("survey is empty")
        if not 0 <= event.score <= MAX_SURVEY_SCORE:
            found.append(f"score must be 0 to {MAX_SURVEY_SCORE}, got {event.score}")
    elif isinstance(event, TierAssigned):
        found += [f"{name} is empty" for name in ("tier", "note") if not getattr(event, name)]
        if event.until is not None and event.until <= event.occurred_at:
            found.append(f"until {event.until.isoformat()} is not after occurred_at: a floor must last a while")
    return found


_TIME_FIELDS: dict[type[MemberEvent], tuple[str, ...]] = {}


def _time_fields(kind: type[MemberEvent]) -> tuple[str, ...]:
    """The names of ``kind``'s fields that hold a time (``occurred_at``, a tier floor's ``until``, ...)."""
    found = _TIME_FIELDS.get(kind)
    if found is None:
        found = _TIME_FIELDS[kind] = tuple(f.name for f in fields(kind) if "datetime" in str(f.type))
    return found


_ID_FIELDS: dict[type, tuple[str, ...]] = {}


def _id_fields(kind: type) -> tuple[str, ...]:
    """The names of ``kind``'s fields that hold an id or a list of ids (an event's, a purchase line's)."""
    found = _ID_FIELDS.get(kind)
    if found is None:
        found = _ID_FIELDS[kind] = tuple(f.name for f in fields(kind) if f.name not in _NOT_IDS
                                         and f.type in ("str", "str | None", "tuple[str, ...]"))
    return found


def _id_problems(item: MemberEvent | PurchaseLine | ReturnedLine, prefix: str) -> list[str]:
    found = []
    for name in _id_fields(type(item)):
        value = getattr(item, name)
        if isinstance(value, str):
            if not _is_plain(value):
                found.append(_id_problem(prefix + name, value))
        elif value is not None:  # a list of ids
            found += [_id_problem(f"{prefix}{name}[{i}]", each) for i, each in enumerate(value) if not _is_plain(each)]
    for i, line in enumerate(getattr(item, "lines", ())):
        found += _id_problems(line, f"lines[{i}].")
    return found


def _is_plain(value: str) -> bool:
    return len(value) <= MAX_ID_LENGTH and value.isprintable() and value == value.strip()


def _id_problem(where: str, value: str) -> str:
    """What is wrong with the id ``value``, which is not plain."""
    if len(value) > MAX_ID_LENGTH:
        return f"{where} is {len(value):,} characters long: an id is at most {MAX_ID_LENGTH}"
    if value != value.strip():
        return f"{where} {mask_pans(value)!r} starts or ends with white space: send the id without it"
    return (f"{where} {mask_pans(value)!r} holds a character that does not print (a control character, line break, "
            "tab or the like): send the id as plain text")


def _out_of_range(name: str, when: datetime) -> str:
    if when == EPOCH:
        return f"{name} is 1970-01-01 00:00 UTC, the Unix epoch itself: a time left unset? send the event's own time"
    side = f"before {EARLIEST:%Y-%m-%d}" if when < EARLIEST else f"after {LATEST:%Y-%m-%d}"
    return (f"{name} {when.date().isoformat()} {when:%H:%M} UTC is {side}: times from {EARLIEST:%Y} to "
            f"{LATEST:%Y} are accepted; check the year")


def too_far_ahead(occurred_at: datetime, received_at: datetime, max_future: timedelta,
                  received: str = "the event reached the engine") -> str | None:
    """Why an input event dated more than ``max_future`` after ``received_at`` is refused, or None if it is not.

    Nothing is sent before it happens, and applied, a mistyped year would lock
    the purchase's points as pending for decades and keep the member active as
    long. ``received`` says what ``received_at`` is: ingest's arrival, or now.
    """
    ahead = occurred_at - received_at
    if ahead <= max_future:
        return None
    words = f"{ahead.days} days" if ahead.days >= 2 else f"{ahead // timedelta(hours=1)} hours"
    return (f"occurred_at {occurred_at:%Y-%m-%d %H:%M} UTC is {words} after {received} ({received_at:%Y-%m-%d %H:%M} "
            f"UTC), beyond the {max_future.days}-day margin for clocks: check the source's clock and the event's year")


def _purchase_problems(event: Purchase) -> list[str]:
    found = _order_problems(event.order_id, event.currency, "total_minor", event.total_minor)
    if not event.lines:
        found.append("lines is empty: a purchase needs at least one line")
    seen: set[str] = set()
    for i, line in enumerate(event.lines):
        where = f"lines[{i}]"
        found += [
            f"{where}.{name} is empty" for name in ("line_id", "sku", "category") if not getattr(line, name)
        ]
        if line.line_id in seen:
            found.append(f"{where}.line_id {line.line_id!r} appears twice in the order")
        seen.add(line.line_id)
        if line.quantity <= 0:
            found.append(f"{where}.quantity must be positive, got {line.quantity}")
        if line.amount_minor < 0:
            found.append(f"{where}.amount_minor must not be negative, got {line.amount_minor}")
        found += _too_large(f"{where}.amount_minor", line.amount_minor)
    lines_total = sum(line.amount_minor for line in event.lines)
    if event.lines and lines_total != event.total_minor:
        found.append(
            f"total_minor {event.total_minor} is not the sum of lines[].amount_minor ({lines_total})"
        )
    if event.points_used < 0:
        found.append(f"points_used must not be negative, got {event.points_used}")
    found += _too_large("points_used", event.points_used)
    return found


def _return_problems(event: Return) -> list[str]:
    found = _order_problems(event.order_id, event.currency, "refund_minor", event.refund_minor)
    if not event.lines:
        found.append("lines is empty: a return needs at least one returned line")
    found += _returned_line_problems(event.lines)
    return found


def _returned_line_problems(lines: tuple[ReturnedLine, ...]) -> list[str]:
    found: list[str] = []
    seen: set[str] = set()
    for i, line in enumerate(lines):
        if not line.line_id:
            found.append(f"lines[{i}].line_id is empty")
        if line.line_id in seen:
            found.append(f"lines[{i}].line_id {line.line_id!r} appears twice in the return")
        seen.add(line.line_id)
        if line.quantity <= 0:
            found.append(f"lines[{i}].quantity must be positive, got {line.quantity}")
    return found


def _order_problems(order_id: str, currency: str, amount_name: str, amount_minor: int) -> list[str]:
    found = []
    if not order_id:
        found.append("order_id is empty")
    found += _currency_problems(currency)
    if amount_minor < 0:
        found.append(f"{amount_name} must not be negative, got {amount_minor}")
    found += _too_large(amount_name, amount_minor)
    return found


def _currency_problems(currency: str) -> list[str]:
    if _CURRENCY.fullmatch(currency):
        return []
    return [f"currency {currency!r} is not an ISO 4217 code (three capital letters)"]


def _too_large(name: str, amount: int) -> list[str]:
    if amount <= MAX_AMOUNT:
        return []
    return [f"{name} {amount:,} is larger than any order or balance the engine takes (at most {MAX_AMOUNT:,}): "
            "check the amount and its unit"]


def _is_birthday(text: str) -> bool:
    match = _BIRTHDAY.fullmatch(text)
    if match is None:
        return False
    month, day = int(match[1]), int(match[2])
    return 1 <= month <= 12 and 1 <= day <= _DAYS_IN_MONTH[month - 1]


def _passes_luhn(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = ord(char) - 48
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def _is_pan(digits: str) -> bool:
    # No card scheme issues numbers starting with 0 (ISO/IEC 7812 reserves it).
    return 13 <= len(digits) <= 19 and digits[0] != "0" and _passes_luhn(digits)


def looks_like_pan(text: str) -> bool:
    """True when the whole of ``text`` is a card number (spaces and dashes between digits allowed)."""
    match = _PAN_TEXT.fullmatch(text.strip())
    return match is not None and _is_pan(_digits(match[0]))


def contains_pan(text: str) -> bool:
    """True when a card number appears anywhere in ``text``."""
    return any(_is_pan(_digits(match[0])) for match in _PAN_TEXT.finditer(text))


def mask_pans(text: str) -> str:
    """Every card number in ``text`` with all but its last four digits replaced by ``*``, same length."""
    return _PAN_TEXT.sub(_mask_text_match, text)


def mask_pans_in_bytes(data: bytes) -> bytes:
    """``mask_pans`` for raw bytes (e.g. an Avro message), keeping every byte that is not a PAN digit.

    In Avro a string follows its length, a single byte, and that byte can itself
    be a digit (lengths 24-28 are written as ``0``-``8``), or a space (16); so a
    run that is not a PAN is tried again without one stray digit at either end.
    """
    return _PAN_BYTES.sub(_mask_bytes_match, data)


def _digits(run: str) -> str:
    return run.replace(" ", "").replace("-", "")


def _masked(run: str) -> str:
    """``run`` with every digit but the last four replaced by ``*``; separators stay."""
    keep = 4
    out = []
    for char in reversed(run):
        if char in _SEPARATORS:
            out.append(char)
        elif keep:
            out.append(char)
            keep -= 1
        else:
            out.append("*")
    return "".join(reversed(out))


def _mask_text_match(match: re.Match[str]) -> str:
    run = match[0]
    return _masked(run) if _is_pan(_digits(run)) else run


def _mask_bytes_match(match: re.Match[bytes]) -> bytes:
    run = match[0].decode("ascii")
    if _is_pan(_digits(run)):
        return _masked(run).encode("ascii")
    # One stray digit at either end, with a separator after (or before) it.
    head = 2 if run[1] in _SEPARATORS else 1
    tail = 2 if run[-2] in _SEPARATORS else 1
    for start, end in ((head, len(run)), (0, len(run) - tail), (head, len(run) - tail)):
        if _is_pan(_digits(run[start:end])):
            return (run[:start] + _masked(run[start:end]) + run[end:]).encode("ascii")
    return run.encode("ascii")
