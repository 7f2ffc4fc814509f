"""Ingest commits what it has passed on, never what the consumer handed out after it.

``commit(asynchronous=True)`` without offsets lets the client pick them when
its own thread gets to it, often after the next ``poll()``: that commit took
in an event ingest had not passed on yet, and a crash just then lost it (seen
in the crash test). Ingest names the offsets (``offsets_after``).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from brokers import BROKERS, started_broker
from confluent_kafka import Consumer, Producer, TopicPartition

from streams.kafka import consumer_config, offsets_after, producer_config
from streams.topics import ENGINE_EVENTS, EVENTS, ensure_topics


class Consumed:
    def __init__(self, topic: str, partition: int, offset: int) -> None:
        self._at = (topic, partition, offset)

    def topic(self) -> str:
        return self._at[0]

    def partition(self) -> int:
        return self._at[1]

    def offset(self) -> int:
        return self._at[2]


def test_the_offsets_after_a_pass_are_each_partitions_last_plus_one() -> None:
    passed = [Consumed(EVENTS, 0, 7), Consumed(EVENTS, 1, 3), Consumed(EVENTS, 0, 9), Consumed(EVENTS, 0, 8),
              Consumed(ENGINE_EVENTS, 0, 2)]

    assert {(tp.topic, tp.partition, tp.offset) for tp in offsets_after(passed)} == {
        (EVENTS, 0, 10), (EVENTS, 1, 4), (ENGINE_EVENTS, 0, 3)}


@pytest.mark.parametrize("kind", BROKERS)
def test_an_asynchronous_commit_of_a_pass_leaves_out_what_the_next_poll_hands_out(kind: str, tmp_path: Path) -> None:
    with started_broker(kind, tmp_path) as bootstrap:
        ensure_topics(bootstrap, 4)
        producer = Producer(producer_config(bootstrap))
        for n in range(10):
            producer.produce(EVENTS, b"event %d" % n, partition=0)
        producer.flush()
        for attempt in range(4):  # the client's own choice of offsets went wrong 3 times in 4 here
            group = f"ingest-{attempt}"
            consumer = Consumer(consumer_config(bootstrap, group))
            consumer.subscribe([EVENTS])
            passed = None
            while passed is None or passed.error() is not None:
                passed = consumer.poll(10)
            consumer.commit(offsets=offsets_after([passed]), asynchronous=True)
            handed_out_next = consumer.poll(10)
            assert handed_out_next is not None and handed_out_next.offset() == passed.offset() + 1
            time.sleep(0.5)  # the commit is sent meanwhile
            consumer.close()

            reader = Consumer(consumer_config(bootstrap, group))
            [committed] = reader.committed([TopicPartition(EVENTS, 0)], timeout=10)
            reader.close()
            assert committed.offset == passed.offset() + 1
