"""Keep the member agent's consumer group off offset 0 of its topic.

aiokafka's ``seek_to_committed`` skips the seek when the committed offset is 0
(or missing), and Faust calls it after its fetcher has already buffered
records: the records behind the first one were then dropped and their
batches never applied. So every partition of the member-batch topic starts
with an empty batch at offset 0, written by whichever engine process opens
the partition first, and the group's start offset is committed past it. The
member agent's own offset check (``batch_gaps``) catches any batch that still
slips by.
"""

from __future__ import annotations

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

from schemas.codec import AvroCodec
from streams.kafka import DeliveryErrors, consumer_config, producer_config
from streams.topics import MEMBER_BATCHES


def open_member_batch_partitions(bootstrap: str, codec: AvroCodec, partitions: int) -> list[int]:
    """Write the empty opening batch to each partition that is still empty; return those partitions."""
    probe = Consumer(consumer_config(bootstrap, "loyalty-partition-opener"))
    try:
        empty = [p for p in range(partitions)
                 if probe.get_watermark_offsets(TopicPartition(MEMBER_BATCHES, p), timeout=10, cached=False)[1] == 0]
    finally:
        probe.close()
    if empty:
        errors = DeliveryErrors()
        producer = Producer(producer_config(bootstrap))
        opening = codec.encode(MEMBER_BATCHES, "MemberBatch", {"events": []})
        for partition in empty:
            producer.produce(MEMBER_BATCHES, opening, partition=partition, on_delivery=errors)
        producer.flush()
        errors.raise_if_any()
    return empty


def commit_missing_start_offsets(bootstrap: str, group: str, topic: str, partitions: int) -> list[int]:
    """Commit a start offset, never 0, for each partition of ``topic`` that ``group`` never committed.

    Returns the partitions it initialised. A group that is running elsewhere keeps
    its own offsets: only partitions with no commit at all are touched.
    """
    consumer = Consumer(consumer_config(bootstrap, group))
    try:
        wanted = [TopicPartition(topic, p) for p in range(partitions)]
        missing = [tp for tp in consumer.committed(wanted, timeout=10) if tp.offset < 0]
        starts = [TopicPartition(topic, tp.partition, max(1, consumer.get_watermark_offsets(tp, timeout=10)[0]))
                  for tp in missing]
        if starts:
            try:
                consumer.commit(offsets=starts, asynchronous=False)
            except KafkaException as exc:
                raise RuntimeError(f"cannot set start offsets of group {group} on {topic}: {exc}") from exc
        return [tp.partition for tp in starts]
    finally:
        consumer.close()
