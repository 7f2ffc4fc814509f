"""Expiry: points expire by age, oldest first, or all of them after a time without activity.

Both run on a clock tick and are ledger entries, so a balance stays the sum
of its ledger, with a ``points_expired`` trigger; a ``points_expiring`` one
comes ``warn_days`` before.

- By age (``after_days``, or at a month's or year's end): the points of each
  lot (see ``points``) expire on the lot's day; each expiring day is warned
  about once. Points given back into a lot whose day has passed (a redemption
  cancelled late) expire at once.
- Inactivity (``inactive_months``): that long after the member's last
  activity every point left expires; any activity puts it off again.

Either way the orders still open to returns note how many of their points
expired, so a return does not take those a second time (see ``returns``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from processors.compiled import CompiledProgram
from processors.dates import add_months
from processors.events import ClockTick, MemberEvent
from processors.money import format_points
from processors.outputs import LedgerReason, Output, Trigger
from processors.points import debit
from processors.state import MemberState


def expire(state: MemberState, event: ClockTick, rules: CompiledProgram) -> list[Output]:
    """What expires at the tick, and the warnings due."""
    outputs: list[Output] = []
    if state.lots:
        outputs += _by_age(state, event, rules)
    if rules.expiry is not None and rules.expiry.inactive_months is not None and state.balance > 0:
        outputs += _inactivity(state, event, rules)
    return outputs


def expire_due_lots(state: MemberState, event: MemberEvent, rules: CompiledProgram) -> list[Output]:
    """The lots whose day has come by the event, or by the member's last tick (a refund dated before it that
    arrives after it), expire: on a tick, and on points given back into past lots."""
    event_id, member_id, when = event.event_id, event.member_id, event.occurred_at
    today = max(rules.local(when).date().isoformat(), state.last_tick_on)
    due = sorted(key for key in state.lots if key <= today)
    if not due:
        return []
    for key in due:
        orders_expired(state, state.lots[key], key, rules)
    points = sum(state.lots[key] for key in due)
    detail = f"{format_points(points)} expired at the end of {_day_before(due[-1])}, their last day"
    return [
        debit(state, event, LedgerReason.EXPIRY, points, detail, suffix="expiry_by_age"),
        Trigger(f"{event_id}:points_expired_by_age", member_id, event_id, when, "points_expired", detail,
                {"points": str(points)}),
    ]


def _by_age(state: MemberState, event: ClockTick, rules: CompiledProgram) -> list[Output]:
    assert rules.expiry is not None
    event_id, member_id, when = event.event_id, event.member_id, event.occurred_at
    today = rules.local(when).date()
    outputs = expire_due_lots(state, event, rules)
    horizon = (today + timedelta(days=rules.expiry.warn_days)).isoformat()
    soon = sorted(key for key in state.lots if state.expiry_warned_until < key <= horizon)
    if soon:
        state.expiry_warned_until = soon[-1]
        points = sum(state.lots[key] for key in soon)
        first = soon[0]
        outputs.append(Trigger(f"{event_id}:points_expiring_by_age", member_id, event_id, when, "points_expiring",
                               f"{format_points(points)} expire soon, the first at the end of {_day_before(first)}: "
                               "spend them before they go.",
                               {"points": str(points), "expires_at": _day_starts(first, rules).isoformat()}))
    return outputs


def _inactivity(state: MemberState, event: ClockTick, rules: CompiledProgram) -> list[Output]:
    assert rules.expiry is not None and rules.expiry.inactive_months is not None
    months, warn_days = rules.expiry.inactive_months, rules.expiry.warn_days
    last = rules.local(state.last_activity_at)
    expires_at = add_months(last, months).astimezone(UTC)
    event_id, member_id, when = event.event_id, event.member_id, event.occurred_at
    if when >= expires_at:
        points = state.balance
        orders_expired(state, points, None, rules)
        referrals_expired(state)
        state.expiry_warned = False
        detail = (f"{format_points(points)} expired after {months} months without activity "
                  f"(last on {last.date()})")
        return [
            debit(state, event, LedgerReason.EXPIRY, points, detail),
            Trigger(f"{event_id}:points_expired", member_id, event_id, when, "points_expired", detail,
                    {"points": str(points)}),
        ]
    if not state.expiry_warned and when >= expires_at - timedelta(days=warn_days):
        state.expiry_warned = True
        return [Trigger(f"{event_id}:points_expiring", member_id, event_id, when, "points_expiring",
                        f"Your {format_points(state.balance)} expire on {rules.local(expires_at).date()}: "
                        "any purchase keeps them.",
                        {"points": str(state.balance), "expires_at": expires_at.isoformat()})]
    return []


def _day_starts(key: str, rules: CompiledProgram) -> datetime:
    """When the day ``key`` ("YYYY-MM-DD") starts in the program's time zone, in UTC."""
    return datetime.fromisoformat(key).replace(tzinfo=rules.zone).astimezone(UTC)


def _day_before(key: str) -> date:
    return date.fromisoformat(key) - timedelta(days=1)


def referrals_expired(state: MemberState) -> None:
    """Every point expired with inactivity: note on the rewards for referring friends, which a friend's return
    can still undo, that theirs went (those spent before count as expired too, in the member's favour)."""
    for friend, referred in state.referred_friends.items():
        if referred.points:
            state.referred_friends[friend] = referred._replace(expired=referred.points)


def orders_expired(state: MemberState, points: int, lot: str | None, rules: CompiledProgram) -> None:
    """``points`` expired (those of ``lot``, for expiry by age, else any): note on the orders kept for returns
    how many of theirs.

    An order's own points count as expired before any others the member had
    (oldest order first), so that a return never takes back points that may
    have expired: of an order, it takes back only what the member can still hold.
    """
    for order_id, order in list(state.orders.items()):
        if points <= 0:
            return
        if lot is not None and rules.expires_on(order.occurred_at) != lot:
            continue
        gone = min(order.points_left() - order.expired, points)
        if gone > 0:
            state.orders[order_id] = order._replace(expired=order.expired + gone)
            points -= gone
