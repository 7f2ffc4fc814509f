"""Effectively-once: a redelivered event changes nothing.

Delivery is at-least-once, so a member remembers the ids of the events it has
applied, each with the time the engine received it (by ingest's clock, kept in
the member batch, so the same on every redelivery), for ``dedup_window_days``. A repeat
arriving inside that window is recognised by its id, however old the event
itself is: replays after a crash come within seconds, and a retailer resending
a feed within the window is caught too.
"""

from __future__ import annotations

from datetime import datetime

from processors.compiled import CompiledProgram
from processors.dates import epoch_ms
from processors.state import CampaignBudget, MemberState

# Below this many remembered ids a member is not worth pruning: the map stays small.
PRUNE_FROM = 32


def remember(state: MemberState | CampaignBudget, event_id: str, received_at: datetime, rules: CompiledProgram) -> None:
    """Add ``event_id`` to the state's applied ids and, now and then, drop the ones past the window.

    Pruning runs only when the map is large and its first-inserted id has left
    the window (ids are inserted in arrival order, so that one is the oldest):
    one cheap look per event, a full pass rarely.
    """
    seen = state.seen_events
    received_ms = seen[event_id] = epoch_ms(received_at)
    if len(seen) > PRUNE_FROM:
        cutoff = received_ms - rules.dedup_window_ms
        if next(iter(seen.values())) < cutoff:
            state.seen_events = {key: when for key, when in seen.items() if when >= cutoff}
