"""Give a consumer group a committed offset on every partition before Faust joins it.

Faust 0.15, on a partition its group never committed, resets to the earliest
offset, processes what the first fetch returned for that offset only, and then
drops the rest of that fetch while it "seeks to the committed offset" (there is
none): after a worker is killed before its first commit, the batches behind
the first one were skipped. Committing the log-start offset for such
partitions beforehand means the same start, with a committed offset to seek to.
"""

from __future__ import annotations

from confluent_kafka import Consumer, KafkaException, TopicPartition

from streams.kafka import consumer_config


def commit_missing_start_offsets(bootstrap: str, group: str, topic: str, partitions: int) -> list[int]:
    """Commit the earliest offset for each partition of ``topic`` that ``group`` never committed.

    Returns the partitions it initialised. A group that is running elsewhere keeps
    its own offsets: only partitions with no commit at all are touched.
    """
    consumer = Consumer(consumer_config(bootstrap, group))
    try:
        wanted = [TopicPartition(topic, p) for p in range(partitions)]
        missing = [tp for tp in consumer.committed(wanted, timeout=10) if tp.offset < 0]
        starts = [TopicPartition(topic, tp.partition, consumer.get_watermark_offsets(tp, timeout=10)[0])
                  for tp in missing]
        if starts:
            try:
                consumer.commit(offsets=starts, asynchronous=False)
            except KafkaException as exc:
                raise RuntimeError(f"cannot set start offsets of group {group} on {topic}: {exc}") from exc
        return [tp.partition for tp in starts]
    finally:
        consumer.close()
