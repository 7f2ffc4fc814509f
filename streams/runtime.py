"""Process-wide tuning shared by the engine's processes and its benchmarks."""

from __future__ import annotations

import gc


def tune_gc() -> None:
    """Collect rarely: every event allocates many short-lived objects, and at the default
    threshold (700) the collector would run every few events. Objects alive at startup are
    frozen, so collections never rescan them."""
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
