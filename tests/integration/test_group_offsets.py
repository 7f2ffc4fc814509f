"""The member agent's group never starts at offset 0, where a Faust seek would drop batches."""

from __future__ import annotations

from pathlib import Path

import pytest
from brokers import BROKERS, started_broker
from confluent_kafka import Consumer, TopicPartition

from schemas.codec import AvroCodec
from schemas.registry import EmbeddedRegistry
from streams.group_offsets import commit_missing_start_offsets, open_member_batch_partitions
from streams.kafka import consumer_config
from streams.topics import DEFAULT_PARTITIONS, MEMBER_BATCHES, ensure_topics


def committed(bootstrap: str, group: str) -> list[int]:
    consumer = Consumer(consumer_config(bootstrap, group))
    try:
        tps = [TopicPartition(MEMBER_BATCHES, p) for p in range(DEFAULT_PARTITIONS)]
        return [tp.offset for tp in consumer.committed(tps, timeout=10)]
    finally:
        consumer.close()


@pytest.mark.parametrize("kind", BROKERS)
def test_each_partition_opens_with_one_empty_batch_and_the_group_starts_after_it(kind: str, tmp_path: Path) -> None:
    codec = AvroCodec(EmbeddedRegistry())
    with started_broker(kind, tmp_path) as bootstrap:
        ensure_topics(bootstrap, DEFAULT_PARTITIONS)
        assert open_member_batch_partitions(bootstrap, codec, DEFAULT_PARTITIONS) == [0, 1, 2, 3]
        assert open_member_batch_partitions(bootstrap, codec, DEFAULT_PARTITIONS) == []

        group = "agent"
        consumer = Consumer(consumer_config(bootstrap, group))
        consumer.commit(offsets=[TopicPartition(MEMBER_BATCHES, 2, 7)], asynchronous=False)
        consumer.close()

        assert commit_missing_start_offsets(bootstrap, group, MEMBER_BATCHES, DEFAULT_PARTITIONS) == [0, 1, 3]
        assert committed(bootstrap, group) == [1, 1, 7, 1]
        assert commit_missing_start_offsets(bootstrap, group, MEMBER_BATCHES, DEFAULT_PARTITIONS) == []

        reader = Consumer(consumer_config(bootstrap, "reader"))
        reader.assign([TopicPartition(MEMBER_BATCHES, 0, 0)])
        opening = [m for m in reader.consume(10, 5) if m.error() is None]
        reader.close()
        assert [codec.decode(m.value())["events"] for m in opening] == [[]]
