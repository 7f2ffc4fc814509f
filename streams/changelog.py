"""Make a changelog's end offset trustworthy before Faust recovers a table from it.

Some Kafka-protocol brokers (the embedded Tansu among them) answer ListOffsets
with "first offset of the last record batch + 1" instead of "last offset + 1".
Faust trusts that answer to decide where table recovery stops, so it would
stop short of the newest state (or refuse to start when its local RocksDB is
ahead). Appending one record in a batch of its own to every changelog
partition makes the last batch one record long, and the broker's answer
exact, whatever the broker. The marker's key is never a member id.
"""

from __future__ import annotations

from collections.abc import Iterable

from confluent_kafka import Producer

from streams.kafka import DeliveryErrors, producer_config

END_MARKER_KEY = b"\x00end-of-changelog"


def seal_changelog(bootstrap: str, topic: str, partitions: int) -> None:
    """Append the end marker to each partition."""
    end_partitions(Producer(producer_config(bootstrap, **{"linger.ms": 0})), DeliveryErrors(), topic,
                   range(partitions))


def end_partitions(producer: Producer, errors: DeliveryErrors, topic: str, partitions: Iterable[int]) -> None:
    """Append the end marker to each of ``partitions`` of ``topic`` through ``producer``, after whatever it has
    sent: each partition's marker is a batch of its own (a batch holds one partition's records), stored before this
    returns; raise if one is not."""
    producer.flush()
    for partition in partitions:
        producer.produce(topic, b"", END_MARKER_KEY, partition=partition, on_delivery=errors)
    producer.flush()
    errors.raise_if_any()
