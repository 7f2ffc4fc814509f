"""confluent-kafka client settings and reads shared by ingest, the member agent's outputs and the sink."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from confluent_kafka import Consumer, KafkaError, TopicPartition

# The largest message our producers send, key and framing included: librdkafka's default, below Kafka brokers'
# default (1,048,588 bytes). A bigger one is refused by the client at produce(); feed files are checked against it.
MAX_MESSAGE_BYTES = 1_000_000
# What the client adds to a message's key and value when it weighs it against MAX_MESSAGE_BYTES (measured: 36).
MESSAGE_FRAMING_BYTES = 64


def producer_config(bootstrap: str, **extra: Any) -> dict[str, Any]:
    # murmur2 like Java clients and Faust, so keyed messages land where the member lives.
    return {
        "bootstrap.servers": bootstrap,
        "message.max.bytes": MAX_MESSAGE_BYTES,
        "enable.idempotence": True,
        "partitioner": "murmur2_random",
        "linger.ms": 5,
        "batch.num.messages": 10_000,
        # Delivery reports only for failures (``DeliveryErrors``): no Python call per stored message.
        # ``flush()`` still waits until every message is stored.
        "delivery.report.only.error": True,
        **extra,
    }


def consumer_config(bootstrap: str, group: str, **extra: Any) -> dict[str, Any]:
    # Offsets are committed by hand, only after what was read is safely written on.
    return {
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 1000,
        "fetch.wait.max.ms": 50,
        **extra,
    }


def consume_arrived(consumer: Any, max_messages: int, timeout: float, linger: float = 0) -> list[Any]:
    """Wait up to ``timeout`` for a message, then take whatever else has arrived ``linger`` seconds later.

    ``Consumer.consume(n, timeout)`` returns only when it has ``n`` messages or
    the timeout is over, so a short batch always waits the whole timeout: a
    floor on latency. Polling for the first message returns as soon as it comes.
    A short linger after it makes fuller batches under a steady stream, which
    costs the stages after it less per event.
    """
    first = consumer.poll(timeout)
    if first is None:
        return []
    if linger:
        time.sleep(linger)
    return [first, *consumer.consume(max_messages - 1, 0)] if max_messages > 1 else [first]


def offsets_after(messages: Iterable[Any]) -> list[TopicPartition]:
    """The offsets to commit once ``messages`` are dealt with: each partition's last offset + 1.

    ``commit()`` without offsets commits what the consumer has handed out when
    the client's own thread gets to the commit, which can be after the next
    ``poll()``: an asynchronous commit would then take in messages not yet
    passed on, and a crash would lose them (librdkafka issue 4534).
    """
    last: dict[tuple[str, int], int] = {}
    for message in messages:
        key = (message.topic(), message.partition())
        last[key] = max(last.get(key, -1), message.offset())
    return [TopicPartition(topic, partition, offset + 1) for (topic, partition), offset in last.items()]


def produce_waiting(producer: Any, topic: str, value: bytes, key: bytes | None = None, **options: Any) -> None:
    """Produce, waiting for room when the client's local queue is full instead of failing."""
    while True:
        try:
            producer.produce(topic, value, key, **options)
            return
        except BufferError:
            producer.poll(0.05)


class DeliveryFailed(RuntimeError):
    pass


class DeliveryErrors:
    """Collects delivery reports so a batch is committed only if every message was stored."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def __call__(self, err: Any, msg: Any) -> None:
        if err is not None:
            self.errors.append(f"{msg.topic()}: {err}")

    def raise_if_any(self) -> None:
        if self.errors:
            first, count = self.errors[0], len(self.errors)
            self.errors.clear()
            raise DeliveryFailed(f"{count} messages were not stored by the broker, first: {first}")


def topic_partitions(bootstrap: str, topics: Iterable[str]) -> list[tuple[str, int]]:
    """The partitions of those of ``topics`` that exist, in order."""
    probe = Consumer(consumer_config(bootstrap, "loyalty-metadata"))
    try:
        metadata = probe.list_topics(timeout=10).topics
    finally:
        probe.close()
    return [(name, p) for name in topics if name in metadata for p in sorted(metadata[name].partitions)]


def read_to_end(bootstrap: str, partitions: Iterable[tuple[str, int]], timeout: float,
                since: Mapping[tuple[str, int], int] | None = None) -> Iterator[Any]:
    """Every message of ``partitions``, each partition in offset order, up to its end; outside any group.

    Each partition is read from its offset in ``since``, else from its start.
    The end is the partition-EOF event, which comes from fetch responses: some
    brokers (the embedded one) misreport end offsets to ListOffsets. Raises
    TimeoutError when a partition's end is not reached in ``timeout`` seconds.
    """
    pending = set(partitions)
    since = since or {}
    consumer = Consumer(consumer_config(bootstrap, "loyalty-reader", **{"enable.partition.eof": True}))
    try:
        consumer.assign([TopicPartition(t, p, since.get((t, p), 0)) for t, p in pending])
        deadline = time.monotonic() + timeout
        while pending:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{', '.join(f'{t}[{p}]' for t, p in sorted(pending))} not read to their end "
                                   f"in {timeout:.0f} s")
            for message in consumer.consume(10_000, 0.5):
                error = message.error()
                if error is None:
                    yield message
                elif error.code() == KafkaError._PARTITION_EOF:
                    pending.discard((message.topic(), message.partition()))
                else:
                    raise RuntimeError(f"reading {message.topic()}: {error}")
    finally:
        consumer.close()
