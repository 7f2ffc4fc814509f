"""Every change of a balance in one place: credits, debits, point lots and pending points.

A rule that moves points calls ``credit`` or ``debit``. They change the
balance (and, for points earned, the lifetime total), keep the lots of
programs whose points expire by age, and return the ledger entry that
explains the change, so a balance is always the sum of its ledger.

Lots: where points expire by age, the state keeps them by the day they
expire. Spending takes the oldest first, and the part of a credit that pays
off a negative balance makes no lot, so the lots add up to the balance (to
zero while it is negative).

Pending points: a purchase's points can be spent ``pending_days`` after it,
once it can no longer be returned; so can the referral rewards a friend's
first purchase gave, to the friend and to the referrer. ``spendable`` is the
balance without them, and each ledger entry says from when its points can be spent.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import NamedTuple

from processors.compiled import CompiledProgram
from processors.events import MemberEvent
from processors.money import format_points
from processors.outputs import LedgerEntry, LedgerReason, Output
from processors.state import MemberState


def credit(state: MemberState, event: MemberEvent, rules: CompiledProgram, reason: LedgerReason, points: int,
           detail: str, *, suffix: str | None = None, order_id: str | None = None, earned: bool = True,
           available_at: datetime | None = None, spent_from: Mapping[str, int] | None = None) -> LedgerEntry:
    """Add ``points`` (``earned``: also to the lifetime total; a refund of spent points is not earned).

    Points given back (``spent_from``: the lots a debit took them from) return
    to those lots, oldest first, so they expire when they would have: giving
    points back does not make them new. The entry's id is the event's id and
    ``suffix`` (the reason by default).
    """
    balance = state.balance = state.balance + points
    if earned:
        state.lifetime_points += points
    if rules.lots and balance > 0:
        lots, lot_points = state.lots, min(points, balance)
        for key, spent in sorted((spent_from or {}).items()):
            back = min(spent, lot_points)
            lots[key] = lots.get(key, 0) + back
            lot_points -= back
        if lot_points:
            key = rules.expires_on(event.occurred_at)
            lots[key] = lots.get(key, 0) + lot_points
    return _entry(event, reason, points, balance, detail, suffix, order_id, None, available_at)


def split_lots(lots: Mapping[str, int], points: int) -> tuple[dict[str, int], dict[str, int]]:
    """``points`` of ``lots`` (day they expire -> points), the oldest first, and the rest."""
    taken: dict[str, int] = {}
    left = dict(lots)
    for key in sorted(lots):
        if points <= 0:
            break
        part = min(lots[key], points)
        taken[key], points = part, points - part
        if part == left[key]:
            del left[key]
        else:
            left[key] -= part
    return taken, left


def debit(state: MemberState, event: MemberEvent, reason: LedgerReason, points: int, detail: str, *,
          suffix: str | None = None, order_id: str | None = None, cause: str | None = None,
          lot: str | None = None, available_at: datetime | None = None,
          spent_from: dict[str, int] | None = None) -> LedgerEntry:
    """Take ``points`` (a positive number) off the balance: from ``lot`` first if given, then the oldest.

    ``spent_from``, if given, is filled with the lots taken from, for giving the points back later.
    """
    balance = state.balance = state.balance - points
    if state.lots:
        _take(state.lots, points, lot, spent_from)
    return _entry(event, reason, -points, balance, detail, suffix, order_id, cause, available_at)


def _entry(event: MemberEvent, reason: LedgerReason, points: int, balance: int, detail: str, suffix: str | None,
           order_id: str | None, cause: str | None, available_at: datetime | None) -> LedgerEntry:
    # Concatenated, not an f-string: formatting the reason, a StrEnum, goes through its __format__ (slow), where
    # adding it to a str copies its text; the id is a plain str either way.
    return LedgerEntry(event.event_id + ":" + (suffix or reason), event.member_id, event.event_id, event.occurred_at,
                       reason, points, balance, order_id, None, detail, cause, available_at)


def move_earned(state: MemberState, event: MemberEvent, rules: CompiledProgram, points: int, earned_at: datetime,
                now_earned_at: datetime, detail: str, *, suffix: str, order_id: str | None = None,
                ) -> list[LedgerEntry]:
    """``points`` earned at ``earned_at`` count from ``now_earned_at`` instead: a referral's reward, when a later
    purchase qualifies the referral in place of a returned one. They wait on that purchase's return window and
    expire with its points.

    The balance does not change. Where points can be pending, two entries say so: one gives them with the new
    date, then one takes them off with the old, so the ledger adds up and shows when they can be spent, and the
    balance after each is never below the balance before.
    """
    if rules.lots:
        old, new = rules.expires_on(earned_at), rules.expires_on(now_earned_at)
        moving = min(points, state.lots.get(old, 0))
        if moving and old != new:
            _take(state.lots, moving, old)
            state.lots[new] = state.lots.get(new, 0) + moving
    was, now = available_at(earned_at, rules), available_at(now_earned_at, rules)
    if not points or was == now:
        return []
    balance, reason = state.balance, LedgerReason.PENDING_MOVED
    return [_entry(event, reason, points, balance + points, detail, f"{suffix}_to", order_id, None, now),
            _entry(event, reason, -points, balance, detail, f"{suffix}_from", order_id, None, was)]


class TakenBack(NamedTuple):
    outputs: list[Output]
    taken: int  # points taken off the member's balance
    expired: int = 0  # points owed but left, since they had expired


def take_back(state: MemberState, event: MemberEvent, rules: CompiledProgram, reason: LedgerReason, owed: int,
              detail: str, earned_at: datetime | None, *, suffix: str | None = None, order_id: str | None = None,
              expired: int = 0) -> LedgerEntry:
    """Take back ``owed`` points earned at ``earned_at`` (a return's, or a referral's undone): from the lot they
    went to, pending as long as they were (None: points of no one purchase, spendable already, the oldest first).

    All of them but the ``expired`` ones (at most ``owed``), which expiry took
    already: taking them again would take them twice. Of the rest, all, unless
    the program's ``return_after_spend`` is ``cap_at_zero`` and they were
    already spent: then only down to a balance of zero. The entry's ``detail``
    says how many were left, and why.
    """
    taken = owed - expired
    if expired:
        detail += f"; {format_points(expired)} of them had expired already, so not taken back"
    if rules.program.return_after_spend == "cap_at_zero" and taken > max(state.balance, 0):
        held = max(state.balance, 0)
        detail += (f"; the points were already spent, so {format_points(held)} taken back, down to 0 "
                   f"({format_points(taken - held)} forgiven)")
        taken = held
    if earned_at is None:
        return debit(state, event, reason, taken, detail, suffix=suffix, order_id=order_id)
    return debit(state, event, reason, taken, detail, suffix=suffix, order_id=order_id,
                 lot=rules.expires_on(earned_at) if rules.lots else None, available_at=available_at(earned_at, rules))


def spendable(state: MemberState, when: datetime, rules: CompiledProgram) -> int:
    """The points the member can spend at ``when``: the balance less the points still pending."""
    if not rules.pending or state.balance <= 0:
        return max(state.balance, 0)
    since = when - rules.pending
    pending = sum(order.points_left() for order in state.orders.values() if order.occurred_at > since)
    pending += sum(friend.points or 0 for friend in state.referred_friends.values()  # rewards for referring
                   if friend.qualified_at > since)
    return max(state.balance - pending, 0)


def available_at(when: datetime, rules: CompiledProgram) -> datetime | None:
    """When the points of a purchase made at ``when`` can be spent; None when they can be at once."""
    return when + rules.pending if rules.pending else None


def _take(lots: dict[str, int], points: int, first: str | None, taken_from: dict[str, int] | None = None) -> None:
    keys = sorted(lots)
    if first is not None and first in lots:
        keys.insert(0, first)
    for key in keys:
        if points <= 0:
            return
        left = lots.get(key, 0)
        taken = min(left, points)
        points -= taken
        if taken and taken_from is not None:
            taken_from[key] = taken_from.get(key, 0) + taken
        if taken == left:
            lots.pop(key, None)
        else:
            lots[key] = left - taken
