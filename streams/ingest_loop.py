"""The ingest process: consume input, produce member batches, commit only after delivery.

It runs in a process of its own (``loyalty ingest``) so that decoding and
validating use another core than the member agent.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import timedelta

from confluent_kafka import Consumer, Producer, TopicPartition

from schemas.codec import AvroCodec
from streams.card_directory import CardDirectory
from streams.group_offsets import open_member_batch_partitions
from streams.ingest import Ingest, Record
from streams.kafka import (
    MAX_MESSAGE_BYTES,
    DeliveryErrors,
    consume_arrived,
    consumer_config,
    producer_config,
)
from streams.settings import Settings
from streams.topics import CARDS, DEADLETTER, ENGINE_EVENTS, EVENTS, MEMBER_BATCHES

log = logging.getLogger(__name__)
INGEST_GROUP = "loyalty-ingest"
# What a member batch or a dead letter adds around one input message's bytes (its ids, times and reason), at most.
WRAPPING_BYTES = 16_384


def run_ingest(bootstrap: str, codec: AvroCodec, settings: Settings, stop: threading.Event) -> None:
    """Consume what has arrived (up to ``ingest_batch_events``), pass it on, commit; repeat until ``stop``."""
    open_member_batch_partitions(bootstrap, codec, settings.partitions)
    ingest = Ingest(codec, settings.partitions, CardDirectory(bootstrap, codec).read_on(), settings.card_wait_seconds,
                    timedelta(days=settings.max_future_days))
    errors = DeliveryErrors()
    # Each pass sends its batches at once and waits for them: lingering would only delay them.
    # Room for a batch of one event as big as an input message, and for a dead letter of one.
    producer = Producer(producer_config(bootstrap, **{"linger.ms": 0,
                                                      "message.max.bytes": MAX_MESSAGE_BYTES + WRAPPING_BYTES}))
    consumer = Consumer(consumer_config(bootstrap, INGEST_GROUP, **{"fetch.wait.max.ms": settings.fetch_wait_ms}))
    consumer.subscribe([EVENTS, ENGINE_EVENTS])
    committed: dict[tuple[str, int], int] = {}
    try:
        while not stop.is_set():
            arrived = consume_arrived(consumer, settings.ingest_batch_events, 0.1, settings.ingest_linger_ms / 1000)
            messages = [m for m in arrived if _ok(m)]
            if not messages and not ingest.waiting:
                continue
            result = ingest.process(messages)
            for partition, records in result.batches.items():
                for value in member_batch_values(codec, records):
                    producer.produce(MEMBER_BATCHES, value, partition=partition, on_delivery=errors)
            for letter in result.dead_letters:
                producer.produce(DEADLETTER, codec.encode(DEADLETTER, "DeadLetter", letter),
                                 letter["key"], on_delivery=errors)
            for link in result.card_links:
                producer.produce(CARDS, codec.encode(CARDS, "CardLink", link), link["card_token"].encode(),
                                 on_delivery=errors)
            for token in result.cards_forgotten:  # a tombstone: compaction removes the link
                producer.produce(CARDS, None, token.encode(), on_delivery=errors)
            producer.flush()
            errors.raise_if_any()
            # What is passed on is committed without waiting. A commit lost in a crash only means those events are
            # read again, and applying an event twice changes nothing. The offsets are named: left to the client,
            # an asynchronous commit can take in what the next poll hands out before it is passed on.
            offsets = ingest.offsets_to_commit()
            if offsets != committed:
                consumer.commit(offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()], asynchronous=True)
                committed = offsets
    finally:
        consumer.close()
        producer.flush(10)


def member_batch_values(codec: AvroCodec, records: list[Record], most: int = MAX_MESSAGE_BYTES) -> Iterator[bytes]:
    """``records`` as member batch messages of at most ``most`` bytes each (but one event each when it is bigger),
    in order: a pass of many large events for one partition would otherwise make a message the broker refuses,
    and ingest would fail on it again at every start.
    """
    value = codec.encode(MEMBER_BATCHES, "MemberBatch", {"events": records})
    if len(value) <= most or len(records) == 1:
        yield value
        return
    half = len(records) // 2
    yield from member_batch_values(codec, records[:half], most)
    yield from member_batch_values(codec, records[half:], most)


def _ok(message: object) -> bool:
    error = message.error()  # type: ignore[attr-defined]
    if error is not None:
        log.warning("ingest consumer: %s", error)
        return False
    return True


def run_ingest_process(settings: Settings) -> None:
    """Run until SIGTERM or SIGINT, then finish the batch at hand and stop."""
    import signal

    from schemas.registry import registry_for

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    run_ingest(settings.broker, AvroCodec(registry_for(settings.schema_registry_url)), settings, stop)
