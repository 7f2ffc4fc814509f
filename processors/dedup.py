"""Effectively-once: a redelivered event changes nothing.

Delivery is at-least-once, so a member remembers the ids of the events it has
applied, each with the time the engine received it (by ingest's clock, kept in
the member batch, so the same on every redelivery), for ``dedup_window_days``. A repeat
arriving inside that window is recognised by its id, however old the event
itself is: replays after a crash come within seconds, and a retailer resending
a feed within the window is caught too.

Each id is kept with its event's time. An event under a remembered id but at
another time is not a repeat but a different event whose source reused an id
(a till that restarts its receipt numbers, two feeds numbering alike): it is
refused with a reason naming both times rather than dropped as a duplicate.
Events the engine makes itself are not checked: a clock tick's id names its
day, and its hour follows the setting in force.
"""

from __future__ import annotations

from datetime import UTC, datetime

from processors.compiled import CompiledProgram
from processors.dates import epoch_ms, from_epoch_ms
from processors.events import ENGINE_MADE_EVENTS, MemberEvent
from processors.state import CampaignBudget, MemberState

REUSED_ID = "reused event_id "  # how the reason for another event under a remembered id starts

# Below this many remembered ids a member is not worth pruning: the map stays small.
PRUNE_FROM = 32


def reused_id(seen: list[int], event: MemberEvent) -> str | None:
    """Why ``event``, whose id the member remembers as ``seen``, is another event under the same id, if it is."""
    occurred_ms = seen[1]
    if not occurred_ms or type(event) in ENGINE_MADE_EVENTS or epoch_ms(event.occurred_at) == occurred_ms:
        return None  # a repeat (or an id remembered before times were kept with it)
    return (f"{REUSED_ID}{event.event_id}: it already named an event that occurred_at "
            f"{_utc(from_epoch_ms(occurred_ms))}, and this one occurred_at {_utc(event.occurred_at)}; a different "
            "event needs an event_id of its own, and the same event sent again its first occurred_at")


def _utc(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def remember(state: MemberState | CampaignBudget, event: MemberEvent, received_at: datetime,
             rules: CompiledProgram) -> None:
    """Add ``event``'s id to the state's applied ids and, now and then, drop the ones past the window.

    Pruning runs only when the map is large and its first-inserted id has left
    the window (ids are inserted in arrival order, so that one is the oldest):
    one cheap look per event, a full pass rarely.
    """
    seen = state.seen_events
    received_ms = epoch_ms(received_at)
    seen[event.event_id] = [received_ms, epoch_ms(event.occurred_at)]
    if len(seen) > PRUNE_FROM:
        cutoff = received_ms - rules.dedup_window_ms
        if next(iter(seen.values()))[0] < cutoff:
            state.seen_events = {key: kept for key, kept in seen.items() if kept[0] >= cutoff}
