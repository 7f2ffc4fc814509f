"""Start offsets are committed only where a consumer group has none."""

from __future__ import annotations

from confluent_kafka import Consumer, TopicPartition

from streams.embedded import EmbeddedBroker
from streams.group_offsets import commit_missing_start_offsets
from streams.kafka import consumer_config
from streams.topics import MEMBER_BATCHES


def committed(bootstrap: str, group: str) -> list[int]:
    consumer = Consumer(consumer_config(bootstrap, group))
    try:
        tps = [TopicPartition(MEMBER_BATCHES, p) for p in range(4)]
        return [tp.offset for tp in consumer.committed(tps, timeout=10)]
    finally:
        consumer.close()


def test_partitions_without_a_commit_get_the_log_start_and_others_keep_theirs(broker: EmbeddedBroker) -> None:
    group = "offsets-test"
    consumer = Consumer(consumer_config(broker.bootstrap, group))
    consumer.commit(offsets=[TopicPartition(MEMBER_BATCHES, 2, 7)], asynchronous=False)
    consumer.close()

    assert commit_missing_start_offsets(broker.bootstrap, group, MEMBER_BATCHES, 4) == [0, 1, 3]

    assert committed(broker.bootstrap, group) == [0, 0, 7, 0]
    assert commit_missing_start_offsets(broker.bootstrap, group, MEMBER_BATCHES, 4) == []
