"""What the sink does when ClickHouse or a message fails it: it stops neither the engine nor the other rows.

ClickHouse refusing writes: the sink keeps its rows, commits nothing and tries
again. The outages are real ones: the ledger table is detached in chDB, so every
insert into it fails as it would on a server that lost the table, then attached
again; or the driver's connection is refused, until it is given chDB instead.
A message the sink cannot read goes to the dead-letter topic with the reason.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import clickhouse_connect
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from schemas.codec import AvroCodec
from schemas.registry import EmbeddedRegistry
from sinks.clickhouse import ClickHouseStore
from streams.embedded import EmbeddedBroker
from streams.kafka import consumer_config, producer_config
from streams.sink_loop import RETRY_FIRST_SECONDS, SINK_GROUP, SinkLoop
from streams.topics import LEDGER, TRIGGERS, ensure_topics

PARTITIONS = 2
T0 = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def bootstrap(tmp_path: Path) -> Iterator[str]:
    """A broker of the test's own: the sink's group starts with nothing committed."""
    with EmbeddedBroker(log_dir=tmp_path / "tansu") as broker:
        ensure_topics(broker.bootstrap, PARTITIONS)
        yield broker.bootstrap


@pytest.fixture
def store(chdb_client: Any, ch_database: str) -> ClickHouseStore:
    created = ClickHouseStore(chdb_client, ch_database)
    created.ensure_schema()
    return created


def send_entries(bootstrap: str, numbers: range) -> None:
    codec = AvroCodec(EmbeddedRegistry())
    producer = Producer(producer_config(bootstrap))
    for n in numbers:
        entry = {"entry_id": f"e{n}", "member_id": f"m{n % 3}", "event_id": f"ev{n}", "occurred_at": T0,
                 "reason": "purchase", "points": 10, "balance_after": 10, "order_id": None, "line_id": None,
                 "detail": "10 points"}
        producer.produce(LEDGER, codec.encode(LEDGER, "LedgerEntry", entry), f"m{n % 3}".encode())
    assert producer.flush(10) == 0


def committed(bootstrap: str) -> int:
    """How many ledger messages the sink's group has committed, over all partitions."""
    reader = Consumer(consumer_config(bootstrap, SINK_GROUP))
    try:
        found = reader.committed([TopicPartition(LEDGER, p) for p in range(PARTITIONS)], timeout=10)
    finally:
        reader.close()
    return sum(max(tp.offset, 0) for tp in found)


def stored(store: ClickHouseStore) -> list[str]:
    return [row["entry_id"] for row in store.rows("SELECT entry_id FROM $db.ledger FINAL ORDER BY entry_id")]


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@contextlib.contextmanager
def sink_running(bootstrap: str, store: ClickHouseStore, retry_first_seconds: float = RETRY_FIRST_SECONDS,
                 ) -> Iterator[tuple[SinkLoop, threading.Thread]]:
    """A sink loop in a thread of its own, stopped (and checked to have stopped) on the way out."""
    loop = SinkLoop(bootstrap, AvroCodec(EmbeddedRegistry()), store, batch_rows=1000, flush_ms=100,
                    retry_first_seconds=retry_first_seconds)
    stop = threading.Event()
    thread = threading.Thread(target=loop.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield loop, thread
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive(), "the sink did not stop"


def test_the_sink_keeps_its_rows_while_clickhouse_refuses_them_and_stores_them_once_it_takes_them(
        bootstrap: str, store: ClickHouseStore) -> None:
    send_entries(bootstrap, range(20))
    store.client.command(store.sql("DETACH TABLE $db.ledger"))
    with sink_running(bootstrap, store, retry_first_seconds=0.1) as (loop, thread):
        wait_for(lambda: loop.outage is not None and loop.outage.attempts >= 3, "three refused writes")
        outage = loop.outage
        assert outage is not None
        assert str(outage).startswith("retrying: ClickHouse has stored nothing since ")
        assert "UNKNOWN_TABLE" in outage.error and "\n" not in outage.error
        assert loop.failing_seconds() > 0
        assert (loop.rows_written, committed(bootstrap)) == (0, 0)
        assert thread.is_alive()

        send_entries(bootstrap, range(20, 25))  # the feed goes on meanwhile
        store.client.command(store.sql("ATTACH TABLE $db.ledger"))
        wait_for(lambda: committed(bootstrap) == 25, "every entry committed")
        assert stored(store) == sorted(f"e{n}" for n in range(25))
        assert store.scalar("SELECT count() FROM $db.ledger FINAL") == 25  # the tries before count once
        assert (loop.outage, loop.failing_seconds(), loop.rows_written) == (None, 0.0, 25)
        assert loop.failed_writes >= 3


def test_a_sink_started_while_clickhouse_does_not_answer_says_so_then_makes_the_schema_and_stores_everything(
        bootstrap: str, chdb_client: Any, ch_database: str) -> None:
    answering = threading.Event()

    def open_client() -> Any:
        """A server that refuses connections, until it answers (as the test's chDB)."""
        if answering.is_set():
            return chdb_client
        with socket.socket() as unused:
            unused.bind(("127.0.0.1", 0))
            port = unused.getsockname()[1]
        return clickhouse_connect.get_client(host="127.0.0.1", port=port)

    store = ClickHouseStore(None, ch_database, open_client)
    with sink_running(bootstrap, store, retry_first_seconds=0.1) as (loop, thread):
        wait_for(lambda: loop.outage is not None, "a refused sweep: nothing to store yet, and still an outage")
        send_entries(bootstrap, range(10))
        wait_for(lambda: loop.outage is not None and loop.outage.attempts >= 3, "refused writes")
        assert loop.outage is not None and "Connection refused" in loop.outage.error
        assert committed(bootstrap) == 0 and thread.is_alive()

        answering.set()
        wait_for(lambda: committed(bootstrap) == 10, "every entry committed")
        assert stored(store) == sorted(f"e{n}" for n in range(10))
        assert loop.outage is None


def test_a_sink_stopped_during_an_outage_commits_nothing_and_the_next_one_stores_everything(
        bootstrap: str, store: ClickHouseStore) -> None:
    send_entries(bootstrap, range(10))
    store.client.command(store.sql("DETACH TABLE $db.ledger"))
    with sink_running(bootstrap, store, retry_first_seconds=60) as (first, _):
        wait_for(lambda: first.outage is not None, "a refused write")
        stopping = time.monotonic()
    assert time.monotonic() - stopping < 10  # stopped in the middle of a minute's wait: it did not wait it out
    assert committed(bootstrap) == 0

    store.client.command(store.sql("ATTACH TABLE $db.ledger"))
    with sink_running(bootstrap, store):
        wait_for(lambda: committed(bootstrap) == 10, "every entry committed")
        assert stored(store) == sorted(f"e{n}" for n in range(10))


def test_messages_the_sink_cannot_read_are_dead_lettered_and_the_rows_around_them_stored(
        bootstrap: str, store: ClickHouseStore) -> None:
    codec = AvroCodec(EmbeddedRegistry())
    send_entries(bootstrap, range(5))
    trigger = codec.encode(TRIGGERS, "Trigger", {"trigger_id": "t1", "member_id": "m1", "event_id": "ev1",
                                                 "occurred_at": T0, "kind": "welcome", "message": "Welcome!"})
    odd = [b"not avro at all", b"\x00" + (999_999).to_bytes(4, "big") + b"\x02x", trigger]
    producer = Producer(producer_config(bootstrap))
    for value in odd:  # a misdirected producer: all on one partition, between good entries
        producer.produce(LEDGER, value, b"m1")
    assert producer.flush(10) == 0
    send_entries(bootstrap, range(5, 10))

    with sink_running(bootstrap, store) as (loop, thread):
        wait_for(lambda: committed(bootstrap) == 13, "every message committed")
        wait_for(lambda: store.scalar("SELECT count() FROM $db.dead_letters FINAL") == 3, "three dead letters")
        assert stored(store) == sorted(f"e{n}" for n in range(10))
        letters = store.rows("SELECT stage, topic, reason, value FROM $db.dead_letters FINAL ORDER BY offset",
                             column_formats={"value": "bytes"})
        assert [(letter["stage"], letter["topic"]) for letter in letters] == [("sink", LEDGER)] * 3
        assert {letter["value"] for letter in letters} == set(odd)  # the original bytes
        reasons = " | ".join(letter["reason"] for letter in letters)
        assert "not Confluent-framed" in reasons and "999999" in reasons and "lacks LedgerEntry field(s)" in reasons
        assert (loop.outage, loop.failed_writes) == (None, 0)
        assert thread.is_alive()
