"""The ClickHouse sink loop: read output topics, write column batches, then commit.

Messages go to ClickHouse as they are (Avro, read by ClickHouse itself) when a
batch is full or old enough, and offsets are committed
only after ClickHouse has stored them; a replay after a crash re-inserts rows
whose deterministic ids the ReplacingMergeTree tables fold together.

ClickHouse being away (a restart, the network) does not stop the engine: the
rewards and triggers other systems wait for go on. The sink keeps its batch,
pauses its partitions and tries again, waiting longer each time, commits
nothing meanwhile, and says so (``outage``: /health and /metrics report it).

A message the sink cannot read goes to the dead-letter topic instead
(``sink_dead_letters``), and the rows around it are stored.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import chain
from typing import Any

from confluent_kafka import Consumer

from schemas.codec import AvroCodec, CodecError
from sinks.clickhouse import STORE_ERRORS, ClickHouseStore, error_summary
from streams.kafka import consume_arrived, consumer_config, offsets_after
from streams.sink_dead_letters import UnreadableMessages
from streams.topics import ACTIVITY, DEADLETTER, ERASURES, LEDGER, REWARDS, SETTLEMENTS, TIERS, TRIGGERS

log = logging.getLogger(__name__)

SINK_GROUP = "loyalty-sink"
SINK_TOPICS = (LEDGER, REWARDS, TRIGGERS, TIERS, ACTIVITY, SETTLEMENTS, DEADLETTER, ERASURES)
# An erased member's rows go once the erasure is stored. Rows the engine wrote before the erasure can arrive after
# it on another topic, so the sink deletes again soon after, and then every few minutes (after a restart, at once).
SWEEP_AGAIN_SECONDS = 5.0
SWEEP_EVERY_SECONDS = 300.0
# A write ClickHouse refused (rows, or a sweep) is tried again after 1 s, then 2, 4, ... and at most every 30 s.
RETRY_FIRST_SECONDS = 1.0
RETRY_MAX_SECONDS = 30.0
# A write fails for ClickHouse (tried again) or for a message the sink cannot read (dead-lettered).
_FAILED_WRITES: tuple[type[Exception], ...] = (CodecError, *STORE_ERRORS)


@dataclass
class Outage:
    """ClickHouse has refused every write since ``since``."""

    since: datetime
    attempts: int
    error: str

    def __str__(self) -> str:
        return (f"retrying: ClickHouse has stored nothing since {self.since:%Y-%m-%d %H:%M:%S} UTC "
                f"({self.attempts} attempts): {self.error}")


class SinkLoop:
    def __init__(self, bootstrap: str, codec: AvroCodec, store: ClickHouseStore,
                 batch_rows: int, flush_ms: int, fetch_wait_ms: int = 10,
                 retry_first_seconds: float = RETRY_FIRST_SECONDS) -> None:
        self._codec = codec
        self._store = store
        self._batch_rows = batch_rows
        self._flush_seconds = flush_ms / 1000
        self._retry_first_seconds = retry_first_seconds
        # Rows wait for a flush up to flush_ms anyway: fetching much more often than that only costs the broker
        # (the sink reads every output partition, and some brokers answer a waiting fetch only at set points).
        fetch_wait_ms = max(fetch_wait_ms, flush_ms // 4)
        self._consumer = Consumer(consumer_config(bootstrap, SINK_GROUP, **{"fetch.wait.max.ms": fetch_wait_ms}))
        self._pending: dict[str, list[Any]] = defaultdict(list)  # the messages not stored yet, by topic
        self._pending_rows = 0
        self._dead_lettered: list[Any] = []  # messages of the pending batch sent to the dead-letter topic instead
        self._unreadable = UnreadableMessages(bootstrap, codec)
        self._oldest = 0.0
        self._last_received = time.monotonic()
        self._next_sweep = 0.0
        self.rows_stored: Counter[str] = Counter()  # by topic
        self.failed_writes = 0
        self.outage: Outage | None = None

    @property
    def rows_written(self) -> int:
        return sum(self.rows_stored.values())

    def idle_seconds(self) -> float:
        """How long ago the sink last received or stored rows (0 while rows wait to be written)."""
        return 0.0 if self._pending_rows else time.monotonic() - self._last_received

    def failing_seconds(self) -> float:
        """How long ClickHouse has refused every write (0 while writes succeed)."""
        return 0.0 if self.outage is None else (datetime.now(UTC) - self.outage.since).total_seconds()

    def run(self, stop: threading.Event) -> None:
        self._consumer.subscribe(list(SINK_TOPICS))
        try:
            while not stop.is_set():
                self.poll_once(stop)
            self.flush(stop)
        finally:
            self._consumer.close()
            self._unreadable.close()

    def poll_once(self, stop: threading.Event) -> None:
        messages = consume_arrived(self._consumer, self._batch_rows, min(self._flush_seconds, 0.1))
        if messages:
            self._last_received = time.monotonic()
        self._take(messages)
        if self._pending_rows >= self._batch_rows or (
            self._pending_rows and time.monotonic() - self._oldest >= self._flush_seconds
        ):
            self.flush(stop)
        if time.monotonic() >= self._next_sweep and not stop.is_set():
            self._sweep()

    def _take(self, messages: list[Any]) -> None:
        for message in messages:
            error = message.error()
            if error is not None:
                raise RuntimeError(f"sink consumer: {error}")
            if not self._pending_rows:
                self._oldest = self._last_received
            self._pending[message.topic()].append(message)
            self._pending_rows += 1

    def _sweep(self) -> None:
        try:
            self._store.forget_erased()
        except STORE_ERRORS as exc:
            self._next_sweep = time.monotonic() + self._refused(exc, "delete the erased members' rows")
        else:
            self._next_sweep = time.monotonic() + SWEEP_EVERY_SECONDS
            if self.outage is not None and not self._pending_rows:
                self._answered()

    def flush(self, stop: threading.Event) -> None:
        """Store the rows waiting and commit their offsets, trying again while ClickHouse refuses them.

        Between tries the partitions are paused (the consumer stays in its
        group, no message comes) and the wait doubles, up to
        ``RETRY_MAX_SECONDS``. A try after a refused one writes every row
        again, which the tables fold together. Once ``stop`` is set there is one
        try left: rows not stored then are read again at the next start. After a
        failed try, messages the sink cannot read go to the dead-letter topic,
        and if there were any, the rest are tried again at once.
        """
        while self._pending_rows or self._dead_lettered:
            try:
                self._store_pending()
            except _FAILED_WRITES as exc:
                if self._dead_letter_unreadable():  # the rest may go in now
                    continue
                if isinstance(exc, CodecError):  # every message reads on its own: not a message's fault
                    raise
                wait = self._refused(exc, f"store {self._pending_rows} rows")
                if stop.is_set():
                    log.warning("stopping with %s rows not stored in ClickHouse: they are read again at the next "
                                "start", self._pending_rows)
                    return
                self._wait_paused(wait, stop)
                continue
            self.rows_stored.update({topic: len(messages) for topic, messages in self._pending.items()})
            self._last_received = time.monotonic()  # idle counts from when the rows are stored
            self._pending.clear()
            self._pending_rows = 0
            self._dead_lettered.clear()
            if self.outage is not None:
                self._answered()

    def _store_pending(self) -> None:
        for topic, messages in self._pending.items():
            contract = self._store.table_for(topic).contract
            self._store.insert(topic, self._codec.containers([message.value() for message in messages], contract))
        if ERASURES in self._pending:
            self._store.forget_erased()
            self._next_sweep = min(self._next_sweep, time.monotonic() + SWEEP_AGAIN_SECONDS)
        handled = chain(chain.from_iterable(self._pending.values()), self._dead_lettered)
        self._consumer.commit(offsets=offsets_after(handled), asynchronous=False)

    def _dead_letter_unreadable(self) -> bool:
        """Send the pending messages the sink cannot read to the dead-letter topic; True if there were any."""
        found = 0
        for topic, messages in self._pending.items():
            unreadable = self._unreadable.sift(messages, self._store.table_for(topic).contract)
            self._dead_lettered += unreadable
            found += len(unreadable)
        if found:
            log.warning("%s message(s) the sink cannot read went to %s", found, DEADLETTER)
            self._pending_rows -= found
        return bool(found)

    def _refused(self, exc: Exception, what: str) -> float:
        """Count a refused write into the outage; the seconds to wait before the next try."""
        self.failed_writes += 1
        error = error_summary(exc)
        if self.outage is None:
            self.outage = Outage(datetime.now(UTC), 0, error)
        self.outage.attempts += 1
        self.outage.error = error
        wait = min(self._retry_first_seconds * 2 ** min(self.outage.attempts - 1, 10), RETRY_MAX_SECONDS)
        log.warning("ClickHouse did not %s (%s attempts): %s; trying again in %.0f s",
                    what, self.outage.attempts, error, wait)
        return wait

    def _answered(self) -> None:
        assert self.outage is not None
        log.warning("ClickHouse answers again, after %s refused attempts", self.outage.attempts)
        self.outage = None
        self._consumer.resume(self._consumer.assignment())

    def _wait_paused(self, seconds: float, stop: threading.Event) -> None:
        """Wait ``seconds`` (less if ``stop`` is set) with every partition paused.

        Polling meanwhile keeps the consumer in its group. Paused partitions
        hand out nothing; a partition a rebalance just assigned may, and what it
        hands out joins the rows waiting.
        """
        self._consumer.pause(self._consumer.assignment())
        deadline = time.monotonic() + seconds
        while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
            self._take(consume_arrived(self._consumer, self._batch_rows, min(left, 0.1)))
