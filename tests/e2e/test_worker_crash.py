"""A worker killed mid-stream and started again: nothing lost, nothing counted twice.

The expected ledger comes from the same ingest and rules run in memory, without
Kafka. The program has one tier, so every event's points are the same in any
interleaving of sources and the comparison can be entry by entry.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from brokers import BROKERS

from schemas.codec import AvroCodec
from schemas.registry import EmbeddedRegistry
from streams.demo import produce, stored_outcomes, wait_stored
from streams.demo_feed import Feed, synthetic_day
from streams.offline import applied
from streams.processes import engine_processes
from streams.program_file import load_program
from streams.settings import Settings
from streams.topics import LEDGER

from . import trace
from .harness import engine, workers_counts

ONE_TIER = """
name: One Tier
currency: SEK
earn: {points: 1, per_amount_minor: 1000}
category_multipliers_bp: {shoes: 15000, outlet: 5000}
excluded_categories: [gift_card, delivery]
welcome_bonus_points: 100
tiers: [{name: Member, qualifying_spend_minor: 0}]
"""


SLICE = 500


def workers_applied(settings: Settings) -> int:
    """Events the running workers have applied so far."""
    return sum(int(counts["applied"]) for counts in workers_counts(settings))


def missing_events(feed: Feed, store: Any) -> list[str]:
    """Ids of the feed's well-formed events that are neither accepted nor dead-lettered in ClickHouse."""
    stored = {row["event_id"] for row in store.rows(
        "SELECT event_id FROM $db.activity UNION DISTINCT SELECT ifNull(event_id, '') FROM $db.dead_letters")}
    return sorted({value["event_id"] for _, value in feed.base + feed.day
                   if isinstance(value, dict)} - stored)[:20]


def expected_ledger(feed: Feed, program_file: Path) -> dict[str, int]:
    """entry_id -> points, from ingest and the rules applied in memory, in feed order."""
    codec = AvroCodec(EmbeddedRegistry())
    ledger = (codec.decode(m.value) for m in applied(codec, load_program(program_file), feed.base + feed.day)
              if m.topic == LEDGER)
    return {entry["entry_id"]: entry["points"] for entry in ledger}


@pytest.mark.parametrize("broker", BROKERS)
@pytest.mark.parametrize(("kill_at", "workers"), [(0.05, 1), (0.5, 1), (0.5, 2)],
                         ids=["kill-early", "kill-midway", "two-workers-killed-midway"])
def test_a_killed_worker_loses_nothing_and_counts_nothing_twice(tmp_path: Path, chdb_client: Any,
                                                                  ch_database: str, kill_at: float,
                                                                  workers: int, broker: str) -> None:
    feed = synthetic_day(members=300, events=15_000, seed=11)
    expected = feed.expected_outcomes()
    with engine(tmp_path, chdb_client, ch_database, program=ONE_TIER, broker=broker, workers=workers) as e:
        want = expected_ledger(feed, e.settings.program_file or Path())
        with engine_processes(e.settings, e.bootstrap) as running:
            # The member base first, as a retailer going live sends it: the day's events need their members.
            produce(e.bootstrap, e.codec, feed.base, lambda n: None)
            wait_stored(e.store, len(feed.base), e.sink, running, 120, lambda n: None)
            # The day arrives as a stream, in slices; the kill comes when the worker has applied the given
            # share (its progress page), with more of the day on its way. The rest is sent while it is down.
            kill_when = len(feed.base) + kill_at * len(feed.day)
            slices = [feed.day[start:start + SLICE] for start in range(0, len(feed.day), SLICE)]
            deadline = time.monotonic() + 120
            while workers_applied(e.settings) < kill_when:
                assert running.alive() and time.monotonic() < deadline, "worker made no progress"
                if slices:
                    produce(e.bootstrap, e.codec, slices.pop(0), lambda n: None)
                time.sleep(0.02)
            running.kill()  # ingest and worker at once, mid-stream
        assert slices, "the whole day was sent before the kill: use more, or smaller, slices"
        for rest in slices:
            produce(e.bootstrap, e.codec, rest, lambda n: None)
        with engine_processes(e.settings, e.bootstrap) as running:
            try:
                wait_stored(e.store, expected, e.sink, running, 180, lambda n: None)
            except TimeoutError as exc:
                missing = missing_events(feed, e.store)
                raise AssertionError(f"{exc}; missing: {missing}; worker counts after the restart: "
                                     f"{workers_counts(e.settings)}\n{trace.on_kafka(e.bootstrap, missing)}") from exc
            time.sleep(1)  # let any replayed output arrive, so a double count would show

        got = {row["entry_id"]: row["points"]
               for row in e.store.rows("SELECT entry_id, points FROM $db.ledger FINAL")}
        assert got == want
        assert stored_outcomes(e.store) == expected


def test_the_expected_ledger_covers_every_member_and_most_orders(tmp_path: Path) -> None:
    program = tmp_path / "p.yaml"
    program.write_text(ONE_TIER)
    ledger = expected_ledger(synthetic_day(members=20, events=300, seed=1), program)
    assert sum(1 for entry in ledger if entry.endswith(":welcome")) == 20
    assert sum(1 for entry in ledger if entry.endswith(":purchase")) > 200


