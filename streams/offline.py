"""Ingest and the rules run in memory, without Kafka: a reference for tests and benchmarks.

Feeds the same code the pipeline runs (``Ingest``, ``MemberBatchApplier``) one
message at a time, in feed order, so its results are what the distributed
engine must reproduce.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from processors.events import MemberEvent
from processors.program import Program
from schemas.codec import AvroCodec
from streams.ingest import Ingest
from streams.member_batches import MemberBatchApplier, Message
from streams.records import event_from_record
from streams.state_codec import encode_state
from streams.topics import ENGINE_EVENTS, EVENTS, MEMBER_BATCHES

FeedMessage = tuple[bytes, dict[str, Any] | bytes]


@dataclass(frozen=True)
class ConsumedMessage:
    """A message as a Kafka consumer hands it to ingest."""

    key_bytes: bytes | None
    value_bytes: bytes | None
    at_offset: int
    topic_name: str = EVENTS
    at_partition: int = 0

    def topic(self) -> str:
        return self.topic_name

    def partition(self) -> int:
        return self.at_partition

    def offset(self) -> int:
        return self.at_offset

    def key(self) -> bytes | None:
        return self.key_bytes

    def value(self) -> bytes | None:
        return self.value_bytes


def encoded(codec: AvroCodec, feed: Iterable[FeedMessage]) -> Iterator[ConsumedMessage]:
    for offset, (key, value) in enumerate(feed):
        data = value if isinstance(value, bytes) else codec.encode(EVENTS, "LoyaltyEvent", value)
        yield ConsumedMessage(key, data, offset)


def ingested(codec: AvroCodec, feed: Iterable[FeedMessage]) -> Iterator[dict[str, Any]]:
    """What ingest passes on (``{"received_at", "member_id", "event"}``), in feed order."""
    ingest = Ingest(codec, partitions=1)
    for message in encoded(codec, feed):
        for records in ingest.process([message]).batches.values():
            yield from records


def member_events(codec: AvroCodec, feed: Iterable[FeedMessage]) -> list[MemberEvent]:
    return [event_from_record({**codec.decode(received["event"], "LoyaltyEvent"), "member_id": received["member_id"]})
            for received in ingested(codec, feed)]


def applied(codec: AvroCodec, program: Program, feed: Iterable[FeedMessage]) -> Iterator[Message]:
    """Every message the member agent would publish for ``feed``, one event at a time.

    The engine's own follow-up events (to its own topic) are fed back in
    after the feed, as the running engine receives them some time later.
    """
    applier = MemberBatchApplier(codec, program)
    ingest = Ingest(codec, partitions=1)
    table: dict[str, bytes] = {}
    waiting = deque(encoded(codec, feed))
    offset = len(waiting)  # input offsets of the follow-up events
    batches = 0  # member batch offsets: one batch per event
    while waiting:
        for records in ingest.process([waiting.popleft()]).batches.values():
            for record in records:
                batch = codec.encode(MEMBER_BATCHES, "MemberBatch", {"events": [record]})
                result = applier.apply(batch, 0, batches, table.get)
                batches += 1
                for states in applier.take_pending().values():
                    table.update({member: encode_state(state) for member, state in states.items()})
                applier.written()
                for message in result.messages:
                    if message.topic == ENGINE_EVENTS:
                        waiting.append(ConsumedMessage(message.key, message.value, offset, ENGINE_EVENTS))
                        offset += 1
                    yield message
