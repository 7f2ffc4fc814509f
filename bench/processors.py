"""How many events a second ``decide`` applies on one core, with no I/O at all.

Takes the demo's synthetic day (the member base, then mostly purchases of 1-5
lines, some returns, card transactions, referrals and social shares), runs it
through ingest in memory to get the typed events, then times only ``decide``
with the bundled demo program.

    python -m bench.processors [members] [events]

prints one line: ``processors: N events/s``.
"""

from __future__ import annotations

import gc
import sys
import time

from processors.decide import decide
from processors.events import MemberEvent
from processors.program import Program
from processors.state import CampaignBudget, MemberState
from schemas.codec import AvroCodec
from schemas.registry import EmbeddedRegistry
from streams.demo_feed import synthetic_day
from streams.offline import member_events
from streams.program_file import load_program
from streams.runtime import tune_gc


def processors_rate(events: list[MemberEvent], program: Program) -> float:
    """Events per second that ``decide`` applies to ``events`` in order, on one core, state in a dict.

    The collector is tuned as in the engine's processes, and the prebuilt events
    are frozen out of it: a worker never holds 100,000 events at once, and the
    collections that ``decide``'s own allocations trigger should not rescan them.
    """
    states: dict[str, MemberState | CampaignBudget | None] = {}
    get = states.get
    thresholds = gc.get_threshold()
    gc.collect()
    tune_gc()
    try:
        started = time.perf_counter()
        for event in events:
            states[event.member_id] = decide(get(event.member_id), event, program, event.occurred_at).state
        elapsed = time.perf_counter() - started
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
    return len(events) / elapsed


def main() -> None:
    members = int(sys.argv[1]) if len(sys.argv) > 1 else 5_000
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    program = load_program(None)
    feed = synthetic_day(members, count)
    events = member_events(AvroCodec(EmbeddedRegistry()), feed.base + feed.day)
    rate = max(processors_rate(events, program) for _ in range(3))  # best of three, as timeit does
    print(f"processors: {rate:.0f} events/s")


if __name__ == "__main__":
    main()
