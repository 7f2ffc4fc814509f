"""Effectively-once: a redelivered event changes nothing.

Delivery is at-least-once, so a member remembers the ids of the events it has
applied, each with the time the engine received it (the input message's
timestamp, the same on every redelivery), for ``dedup_window_days``. A repeat
arriving inside that window is recognised by its id, however old the event
itself is: replays after a crash come within seconds, and a retailer resending
a feed within the window is caught too.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from processors.compiled import CompiledProgram

# Below this many remembered ids a member is not worth pruning: the map stays small.
PRUNE_FROM = 32


def already_applied(seen: Mapping[str, datetime], event_id: str) -> bool:
    return event_id in seen


def remember(
    seen: Mapping[str, datetime], event_id: str, received_at: datetime, rules: CompiledProgram
) -> dict[str, datetime]:
    """A new map of applied ids with this one added and, now and then, old ones pruned.

    Pruning runs only when the map is large and its first-inserted id has left
    the window (ids are inserted in arrival order, so that one is the oldest):
    one cheap look per event, a full pass rarely.
    """
    remembered = dict(seen)
    remembered[event_id] = received_at
    if len(remembered) > PRUNE_FROM:
        cutoff = received_at - rules.dedup_window
        if next(iter(remembered.values())) < cutoff:
            remembered = {key: when for key, when in remembered.items() if when >= cutoff}
    return remembered
