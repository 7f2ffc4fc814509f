"""The embedded broker's topics saved from one broker and put back into a new one, at the same offsets."""

from __future__ import annotations

from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from streams.broker_snapshot import SnapshotError, restore_snapshot, save_snapshot
from streams.embedded import EmbeddedBroker
from streams.kafka import consumer_config, producer_config
from streams.topics import LEDGER, MEMBERS_CHANGELOG, ensure_topics

GROUP = "loyalty-sink"


def fill(bootstrap: str) -> None:
    producer = Producer(producer_config(bootstrap))
    for n in range(600):
        producer.produce(LEDGER, f"entry {n}".encode(), f"m{n % 7}".encode(),
                         headers=[("trace", b"x")] if n % 100 == 0 else None, timestamp=1_700_000_000_000 + n)
        # the changelog's deletes are tombstones: no value
        producer.produce(MEMBERS_CHANGELOG, None if n % 50 == 0 else b"state", f"m{n % 30}".encode(),
                         partition=n % 2)
    assert producer.flush(10) == 0
    committer = Consumer(consumer_config(bootstrap, GROUP))
    committer.commit(offsets=[TopicPartition(LEDGER, 1, 17)], asynchronous=False)
    committer.close()


def everything(bootstrap: str) -> list[tuple[str, int, int, int, bytes | None, bytes | None, object]]:
    """Every message of the filled topics: topic, partition, offset, timestamp, key, value, headers."""
    reader = Consumer(consumer_config(bootstrap, "test-reader", **{"enable.partition.eof": True}))
    places = [TopicPartition(topic, p, 0) for topic in (LEDGER, MEMBERS_CHANGELOG) for p in range(2)]
    reader.assign(places)
    found, ends = [], 0
    while ends < len(places):
        for m in reader.consume(1000, 1.0):
            if m.error():
                ends += 1
            else:
                found.append((m.topic(), m.partition(), m.offset(), m.timestamp()[1], m.key(), m.value(), m.headers()))
    reader.close()
    return sorted(found, key=lambda m: m[:3])


def committed(bootstrap: str) -> list[int]:
    reader = Consumer(consumer_config(bootstrap, GROUP))
    offsets = [tp.offset for tp in reader.committed([TopicPartition(LEDGER, p) for p in range(2)], timeout=10)]
    reader.close()
    return offsets


def test_messages_and_group_offsets_come_back_where_they_were(tmp_path: Path) -> None:
    snapshot = tmp_path / "snapshot.avro"
    with EmbeddedBroker(log_dir=tmp_path / "first") as first:
        ensure_topics(first.bootstrap, 2)
        fill(first.bootstrap)
        before = everything(first.bootstrap)
        assert save_snapshot(first.bootstrap, snapshot, [GROUP, "loyalty-ingest"]) == len(before) == 1200
    with EmbeddedBroker(log_dir=tmp_path / "second") as second:
        ensure_topics(second.bootstrap, 2)
        assert restore_snapshot(second.bootstrap, snapshot) == 1200
        assert everything(second.bootstrap) == before
        assert committed(second.bootstrap) == [-1001, 17]  # what was committed, and nothing else

        # put back twice, the messages would land after the first copy: refused, not trusted
        with pytest.raises(SnapshotError, match="did not land at their old offsets"):
            restore_snapshot(second.bootstrap, snapshot)


def test_a_snapshot_with_more_partitions_than_the_broker_is_refused(tmp_path: Path) -> None:
    snapshot = tmp_path / "snapshot.avro"
    with EmbeddedBroker(log_dir=tmp_path / "first") as first:
        ensure_topics(first.bootstrap, 2)
        fill(first.bootstrap)
        save_snapshot(first.bootstrap, snapshot, [GROUP])
    with EmbeddedBroker(log_dir=tmp_path / "second") as second:
        ensure_topics(second.bootstrap, 1)
        with pytest.raises(SnapshotError, match="start with the LOYALTY_PARTITIONS the snapshot was taken with"):
            restore_snapshot(second.bootstrap, snapshot)
