"""Ingest: decode, validate and resolve input events, then pack them per member partition.

Faust pays ~170 µs for every message it walks through its stream machinery,
so the member agent receives one ``MemberBatch`` message per partition and
poll instead of one message per event. A batch carries each event's original
bytes with its resolved member id: re-encoding what was just decoded cost ingest
twice the decoding. Everything that cannot be applied goes
to the dead-letter topic with its original bytes (card numbers masked) and a
reason; the events around it go on.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from confluent_kafka import TIMESTAMP_NOT_AVAILABLE

from processors.validation import contains_pan, looks_like_pan, mask_pans_in_bytes, problems
from schemas.codec import AvroCodec, CodecError
from streams.partitioning import member_partition
from streams.records import ENGINE_MADE, body_type, event_from_record
from streams.topics import ENGINE_EVENTS, EVENTS

Record = dict[str, Any]
_DIGIT_RUN = re.compile(rb"\d[\d -]{11,}\d")


class RawMessage(Protocol):
    """The parts of a consumed Kafka message ingest needs (confluent-kafka's Message has them)."""

    def topic(self) -> str | None: ...
    def partition(self) -> int | None: ...
    def offset(self) -> int | None: ...
    def key(self) -> bytes | None: ...
    def value(self) -> bytes | None: ...
    def timestamp(self) -> tuple[int, int]: ...


@dataclass
class IngestResult:
    batches: dict[int, list[Record]] = field(default_factory=lambda: defaultdict(list))
    dead_letters: list[Record] = field(default_factory=list)
    card_links: list[Record] = field(default_factory=list)
    card_unlinks: list[str] = field(default_factory=list)  # tokens of erased members: deleted from the cards topic


class Rejected(Exception):
    """An input that cannot go on, with the reason for the dead-letter topic."""


def dead_letter(stage: str, reason: str, topic: str, partition: int, offset: int, key: bytes | None,
                value: bytes | None, event_id: str | None, dead_letter_id: str, member_id: str | None) -> Record:
    return {
        "dead_letter_id": dead_letter_id,
        "stage": stage,
        "reason": reason,
        "event_id": event_id,
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "key": key,
        "value": value,
        "recorded_at": datetime.now(UTC),
        "member_id": member_id,
    }


class Ingest:
    def __init__(self, codec: AvroCodec, partitions: int, cards: dict[str, str] | None = None) -> None:
        self._codec = codec
        self._partitions = partitions
        self.cards: dict[str, str] = cards if cards is not None else {}

    def process(self, messages: list[RawMessage]) -> IngestResult:
        result = IngestResult()
        for message in messages:
            value = message.value()
            try:
                record = self._accept(value, message.topic() == ENGINE_EVENTS, result)
                kind, millis = message.timestamp()
                if kind == TIMESTAMP_NOT_AVAILABLE:
                    raise Rejected("the input message has no timestamp; produce it with a Kafka client >= 0.10")
            except Rejected as exc:
                topic, partition, offset = message.topic() or EVENTS, message.partition() or 0, message.offset() or 0
                masked = mask_pans_in_bytes(value) if value is not None else None
                event_id, member_id = _ids(value, self._codec)
                result.dead_letters.append(dead_letter(
                    "ingest", str(exc), topic, partition, offset, message.key(), masked, event_id,
                    f"ingest:{topic}:{partition}:{offset}", member_id,
                ))
                continue
            member_id = record["member_id"]
            result.batches[member_partition(member_id, self._partitions)].append(
                {"received_at": datetime.fromtimestamp(millis / 1000, UTC), "member_id": member_id, "event": value})
        return result

    def _accept(self, value: bytes | None, from_engine: bool, result: IngestResult) -> Record:
        try:
            record = self._codec.decode(value)
            kind = body_type(record)
        except (CodecError, KeyError, TypeError, IndexError) as exc:
            raise Rejected(f"undecodable: {exc}; send LoyaltyEvent Avro in the Confluent wire format") from exc
        if kind in ENGINE_MADE and not from_engine:
            raise Rejected(f"{kind} events are made by the engine itself and are accepted only from {ENGINE_EVENTS}, "
                           "which only the engine writes: send purchases, returns and the other input events")
        if value is not None and _DIGIT_RUN.search(value):  # cheap test first: most events have no long digit run
            field = field_with_pan(record)
            if field is not None:
                raise Rejected(f"a card number (PAN) was found in field {field} of a {kind} event; send a card "
                               "token instead, never the number (it is masked here)")
        self._resolve_member(record, kind)
        event = event_from_record(record)
        found = problems(event)
        if found:
            raise Rejected("invalid " + kind + ": " + "; ".join(found))
        if kind == "CardLinked":
            token = record["body"][1]["card_token"]
            self.cards[token] = record["member_id"]
            result.card_links.append({"card_token": token, "member_id": record["member_id"],
                                      "linked_at": record["occurred_at"]})
        elif kind == "MemberErased":  # the member's cards no longer lead to them
            tokens = [token for token, member in self.cards.items() if member == record["member_id"]]
            for token in tokens:
                del self.cards[token]
            result.card_unlinks += tokens
        return record

    def _resolve_member(self, record: Record, kind: str) -> None:
        if record["member_id"]:
            return
        token = record["card_token"]
        if not token:
            raise Rejected(f"{kind} {record['event_id']} has neither member_id nor card_token")
        member_id = self.cards.get(token)
        if member_id is None:
            raise Rejected(f"unknown card_token in {kind} {record['event_id']}: "
                           "link the card to a member (CardLinked) before sending its transactions")
        record["member_id"] = member_id


def field_with_pan(value: Any, path: str = "") -> str | None:
    """The dotted name of the first string field that contains a card number, if any."""
    if isinstance(value, str):
        return path if contains_pan(value) else None
    if isinstance(value, tuple):  # a union branch: (type name, value)
        return field_with_pan(value[1], path)
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found = field_with_pan(item, f"{path}.{key}" if path else str(key))
        if found is not None:
            return found
    return None


def _ids(value: bytes | None, codec: AvroCodec) -> tuple[str | None, str | None]:
    """The rejected input's event and member ids, where it has them (and they are not card numbers)."""
    try:
        record = codec.decode(value)
    except Exception:  # the reason is already recorded; the ids are a courtesy
        return None, None

    def usable(found: object) -> str | None:
        return found if isinstance(found, str) and found and not looks_like_pan(found) else None

    return usable(record.get("event_id")), usable(record.get("member_id"))


