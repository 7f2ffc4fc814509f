"""The embedded broker's topics kept across a restart of ``loyalty run``.

The embedded broker (Tansu) keeps its topics in memory only, and the engine's
state is more than the workers' tables: their changelog, the card directory,
the member batches the tables' offsets point into, and each consumer group's
place in its topics. Without them a restarted engine would forget its members.
So when ``loyalty run`` stops, every message of every engine topic and the
groups' committed offsets go into one Avro object container in the data
directory, and the next start writes them back into the new broker, at the
same offsets, before any part of the engine runs: as if the broker had kept
them. An engine killed together with its broker (``kill -9``) leaves no
snapshot; the next start then says so rather than carry on without its members.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, cast

import fastavro
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

from streams.kafka import (
    DeliveryErrors,
    consumer_config,
    produce_waiting,
    producer_config,
    read_to_end,
    topic_partitions,
)
from streams.topics import topic_names

SNAPSHOT_FILE = "broker-snapshot.avro"
GROUPS_KEY = "loyalty.group_offsets"

_MESSAGE = fastavro.parse_schema({
    "type": "record", "name": "KeptMessage", "namespace": "loyalty.snapshot",
    "fields": [
        {"name": "topic", "type": "string"},
        {"name": "partition", "type": "int"},
        {"name": "offset", "type": "long"},
        {"name": "timestamp", "type": "long"},
        {"name": "key", "type": ["null", "bytes"]},
        {"name": "value", "type": ["null", "bytes"]},
        {"name": "headers", "type": {"type": "array", "items": {
            "type": "record", "name": "Header",
            "fields": [{"name": "key", "type": "string"}, {"name": "value", "type": ["null", "bytes"]}]}}},
    ],
})


class SnapshotError(RuntimeError):
    """The topics could not be saved or put back; the message says what to do."""


def save_snapshot(bootstrap: str, path: Path, groups: Iterable[str], timeout: float = 120) -> int:
    """Write every message of the engine's topics and ``groups``' offsets to ``path``; return the message count.

    The file appears only once complete (written aside, then renamed).
    """
    partitions = topic_partitions(bootstrap, topic_names())
    offsets = _committed(bootstrap, groups, partitions)
    written = path.with_suffix(".partial")
    count = 0

    def counted(records: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        nonlocal count
        for record in records:
            count += 1
            yield record

    with written.open("wb") as out:
        # deflate at its fastest: a third of the size (a demo's day: 29 MB against 99) for ~1 s more
        fastavro.writer(out, _MESSAGE, counted(_read_all(bootstrap, partitions, timeout)), codec="deflate",
                        codec_compression_level=1, metadata={GROUPS_KEY: json.dumps(offsets)})
        out.flush()
        os.fsync(out.fileno())
    written.replace(path)
    return count


def restore_snapshot(bootstrap: str, path: Path) -> int:
    """Write the snapshot at ``path`` into the (new, empty) engine topics, then the groups' offsets.

    Every message must land at its old offset, or the tables' and groups'
    offsets would point at other messages: if one does not, nothing is trusted.
    Returns the message count.
    """
    partitions = set(topic_partitions(bootstrap, topic_names()))
    errors, landed = DeliveryErrors(), _Landed()
    report = landed.delivered(errors)
    producer = Producer(producer_config(bootstrap, **{"delivery.report.only.error": False, "linger.ms": 20}))
    with path.open("rb") as source:
        reader = fastavro.reader(source)
        offsets = json.loads(reader.metadata[GROUPS_KEY])
        for kept in reader:
            record = cast(dict[str, Any], kept)
            place = (record["topic"], record["partition"])
            if place not in partitions:
                raise SnapshotError(f"{path} holds {place[0]} partition {place[1]}, which this broker's topics do "
                                    "not have: start with the LOYALTY_PARTITIONS the snapshot was taken with")
            landed.expect(place, record["offset"])
            headers = [(header["key"], header["value"]) for header in record["headers"]] or None
            produce_waiting(producer, record["topic"], record["value"], record["key"], partition=record["partition"],
                            timestamp=record["timestamp"], headers=headers, on_delivery=report)
    producer.flush()
    errors.raise_if_any()
    landed.check(path)
    _commit(bootstrap, offsets)
    return landed.count


class _Landed:
    """Where each restored partition's messages were meant to land, and where they did."""

    def __init__(self) -> None:
        self._expected: dict[tuple[str, int], list[int]] = defaultdict(list)
        self._got: dict[tuple[str, int], list[int]] = defaultdict(list)
        self.count = 0

    def expect(self, place: tuple[str, int], offset: int) -> None:
        self._expected[place].append(offset)
        self.count += 1

    def delivered(self, errors: DeliveryErrors) -> Any:
        def report(err: Any, msg: Any) -> None:
            if err is not None:
                errors(err, msg)
            else:
                self._got[(msg.topic(), msg.partition())].append(msg.offset())
        return report

    def check(self, path: Path) -> None:
        for place, expected in self._expected.items():
            if sorted(self._got[place]) != expected:
                raise SnapshotError(f"the messages of {place[0]} partition {place[1]} from {path} did not land at "
                                    "their old offsets (the topic was not empty, or the old one had gaps): the "
                                    "engine cannot go on from this snapshot; start over with `loyalty run --fresh`")


def _committed(bootstrap: str, groups: Iterable[str], partitions: list[tuple[str, int]]) -> dict[str, list[Any]]:
    """Each group's committed offsets: ``{group: [[topic, partition, offset], ...]}``."""
    found: dict[str, list[Any]] = {}
    for group in groups:
        consumer = Consumer(consumer_config(bootstrap, group))
        try:
            committed = consumer.committed([TopicPartition(t, p) for t, p in partitions], timeout=10)
        finally:
            consumer.close()
        found[group] = [[tp.topic, tp.partition, tp.offset] for tp in committed if tp.offset >= 0]
    return found


def _commit(bootstrap: str, offsets: dict[str, list[Any]]) -> None:
    for group, places in offsets.items():
        if not places:
            continue
        consumer = Consumer(consumer_config(bootstrap, group))
        try:
            consumer.commit(offsets=[TopicPartition(t, p, o) for t, p, o in places], asynchronous=False)
        except KafkaException as exc:
            raise SnapshotError(f"cannot give group {group} back its offsets: {exc}") from exc
        finally:
            consumer.close()


def _read_all(bootstrap: str, partitions: list[tuple[str, int]], timeout: float) -> Iterator[dict[str, Any]]:
    """Every message of ``partitions`` as a snapshot record."""
    try:
        for message in read_to_end(bootstrap, partitions, timeout):
            yield {"topic": message.topic(), "partition": message.partition(), "offset": message.offset(),
                   "timestamp": message.timestamp()[1], "key": message.key(), "value": message.value(),
                   "headers": [{"key": header[0], "value": header[1]} for header in message.headers() or []]}
    except (TimeoutError, RuntimeError) as exc:
        raise SnapshotError(str(exc)) from exc
