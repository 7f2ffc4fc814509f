"""Process-wide tuning shared by the engine's processes and its benchmarks."""

from __future__ import annotations

import gc


def tune_gc() -> None:
    """Collect less often than the default: every event allocates many short-lived objects, and
    at the default threshold (700) the collector would run every few events. Not much less:
    a young-generation collection's pause grows with the objects that survive it, and at
    100,000 a worker paused up to 40-190 ms at a time, at 10,000 up to 10-23 ms, for the same
    total (measured at ~5,800 events/s). Objects alive now are frozen, so collections never
    rescan them; a process that builds long-lived data later freezes it again."""
    gc.freeze()
    gc.set_threshold(10_000, 50, 100)
