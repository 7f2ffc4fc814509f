"""Effectively-once: a redelivered event changes nothing.

Delivery is at-least-once, so a member remembers the ids of the events it has
applied for ``dedup_window_days`` behind its latest event. Inside that window a
repeat is recognised by its id. An event older than the window is refused: its
id may already have been forgotten, so applying it could count it twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from processors.compiled import CompiledProgram
from processors.events import MemberEvent
from processors.outputs import Decision, Refusal
from processors.state import MemberState

# Below this many remembered ids a member is not worth pruning: the map stays
# small, and an id kept past the window is harmless (its event is refused as too old anyway).
PRUNE_FROM = 32


def check_seen(state: MemberState, event: MemberEvent, rules: CompiledProgram) -> Decision | None:
    """A decision for a repeat or a too-old event, or None when the event is new."""
    if event.event_id in state.seen_events:
        return Decision(state, duplicate=True)
    latest = state.last_activity_at
    if event.occurred_at < latest and event.occurred_at < latest - rules.dedup_window:
        reason = (
            f"event {event.event_id} at {event.occurred_at.isoformat()} is older than the "
            f"{rules.dedup_window_days}-day dedup window behind member {event.member_id}'s latest event "
            f"at {latest.isoformat()}: it could be a duplicate that is no longer recognised, "
            "so it is not applied"
        )
        return Decision(state, refusal=Refusal(event.event_id, event.member_id, reason))
    return None


def remember(
    seen: Mapping[str, datetime],
    event_id: str,
    occurred_at: datetime,
    latest: datetime,
    rules: CompiledProgram,
) -> dict[str, datetime]:
    """A new map of applied ids with this one added and, now and then, old ones pruned.

    Pruning runs only when the map is large and its first-inserted id has left
    the window (events mostly arrive in time order, so that one is about the
    oldest): one cheap look per event, a full pass rarely.
    """
    remembered = dict(seen)
    remembered[event_id] = occurred_at
    if len(remembered) > PRUNE_FROM:
        cutoff = latest - rules.dedup_window
        if next(iter(remembered.values())) < cutoff:
            remembered = {key: when for key, when in remembered.items() if when >= cutoff}
    return remembered
