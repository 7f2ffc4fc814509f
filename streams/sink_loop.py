"""The ClickHouse sink loop: read output topics, write column batches, then commit.

Messages go to ClickHouse as they are (Avro, read by ClickHouse itself) when a
batch is full or old enough, and offsets are committed
only after ClickHouse has stored them; a replay after a crash re-inserts rows
whose deterministic ids the ReplacingMergeTree tables fold together.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict

from confluent_kafka import Consumer

from schemas.codec import AvroCodec
from sinks.clickhouse import ClickHouseStore
from streams.kafka import consume_arrived, consumer_config
from streams.topics import ACTIVITY, DEADLETTER, ERASURES, LEDGER, REWARDS, SETTLEMENTS, TIERS, TRIGGERS

SINK_GROUP = "loyalty-sink"
SINK_TOPICS = (LEDGER, REWARDS, TRIGGERS, TIERS, ACTIVITY, SETTLEMENTS, DEADLETTER, ERASURES)
# An erased member's rows go once the erasure is stored. Rows the engine wrote before the erasure can arrive after
# it on another topic, so the sink deletes again soon after, and then every few minutes (after a restart, at once).
SWEEP_AGAIN_SECONDS = 5.0
SWEEP_EVERY_SECONDS = 300.0


class SinkLoop:
    def __init__(self, bootstrap: str, codec: AvroCodec, store: ClickHouseStore,
                 batch_rows: int, flush_ms: int, fetch_wait_ms: int = 10) -> None:
        self._codec = codec
        self._store = store
        self._batch_rows = batch_rows
        self._flush_seconds = flush_ms / 1000
        # Rows wait for a flush up to flush_ms anyway: fetching much more often than that only costs the broker
        # (the sink reads every output partition, and some brokers answer a waiting fetch only at set points).
        fetch_wait_ms = max(fetch_wait_ms, flush_ms // 4)
        self._consumer = Consumer(consumer_config(bootstrap, SINK_GROUP, **{"fetch.wait.max.ms": fetch_wait_ms}))
        self._pending: dict[str, list[bytes]] = defaultdict(list)
        self._pending_rows = 0
        self._oldest = 0.0
        self._last_received = time.monotonic()
        self._next_sweep = 0.0
        self.rows_written = 0

    def idle_seconds(self) -> float:
        """How long ago the sink last received or stored rows (0 while rows wait to be written)."""
        return 0.0 if self._pending_rows else time.monotonic() - self._last_received

    def run(self, stop: threading.Event) -> None:
        self._consumer.subscribe(list(SINK_TOPICS))
        try:
            while not stop.is_set():
                self.poll_once()
            self.flush()
        finally:
            self._consumer.close()

    def poll_once(self) -> None:
        messages = consume_arrived(self._consumer, self._batch_rows, min(self._flush_seconds, 0.1))
        if messages:
            self._last_received = time.monotonic()
        for message in messages:
            error = message.error()
            if error is not None:
                raise RuntimeError(f"sink consumer: {error}")
            if not self._pending_rows:
                self._oldest = self._last_received
            self._pending[message.topic()].append(message.value())
            self._pending_rows += 1
        if self._pending_rows >= self._batch_rows or (
            self._pending_rows and time.monotonic() - self._oldest >= self._flush_seconds
        ):
            self.flush()
        if time.monotonic() >= self._next_sweep:
            self._store.forget_erased()
            self._next_sweep = time.monotonic() + SWEEP_EVERY_SECONDS

    def flush(self) -> None:
        if not self._pending_rows:
            return
        try:
            for topic, values in self._pending.items():
                self._store.insert(topic, self._codec.containers(values, self._store.table_for(topic).contract))
            if ERASURES in self._pending:
                self._store.forget_erased()
                self._next_sweep = min(self._next_sweep, time.monotonic() + SWEEP_AGAIN_SECONDS)
            self._consumer.commit(asynchronous=False)
            self.rows_written += self._pending_rows
            self._last_received = time.monotonic()  # idle counts from when the rows are stored
        finally:
            self._pending.clear()
            self._pending_rows = 0
