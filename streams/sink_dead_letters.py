"""Messages on the output topics that the sink cannot hand to ClickHouse, sent to the dead-letter topic.

Only the engine writes its output topics, but a misdirected producer can put
anything there. A message that is not Confluent-framed Avro, whose schema the
registry does not know, or whose schema lacks the contract's fields would fail
every insert of its batch, and so hold up the analytics and stop the engine at
every start. It goes to the dead-letter topic with the reason (its bytes as
they came, any card number masked), and the rows around it are stored.
"""

from __future__ import annotations

from typing import Any

from confluent_kafka import Producer

from schemas.codec import AvroCodec, CodecError
from streams.ingest import dead_letter
from streams.kafka import DeliveryErrors, producer_config
from streams.topics import DEADLETTER


class UnreadableMessages:
    def __init__(self, bootstrap: str, codec: AvroCodec) -> None:
        self._bootstrap = bootstrap
        self._codec = codec
        self._producer: Producer | None = None  # made when the first dead letter is

    def sift(self, messages: list[Any], contract: str) -> list[Any]:
        """Dead-letter the messages (of one topic, of ``contract``) the sink cannot read; return them.

        Those that remain in ``messages`` can be read. Once this returns, the
        dead letters are on the broker.
        """
        errors, unreadable, readable = DeliveryErrors(), [], []
        for message in messages:
            reason = self._unreadable(message.value(), contract)
            if reason is None:
                readable.append(message)
                continue
            self._send(message, f"the sink cannot store this {message.topic()} message in ClickHouse: {reason}; "
                                "only the engine should write its output topics", errors)
            unreadable.append(message)
        if unreadable:
            messages[:] = readable
            self._producer_made().flush()
            errors.raise_if_any()
        return unreadable

    def close(self) -> None:
        if self._producer is not None:
            self._producer.flush(10)

    def _unreadable(self, value: bytes | None, contract: str) -> str | None:
        """Why ClickHouse could not be given ``value`` as a row of ``contract``, or None if it can."""
        try:
            self._codec.decode(value)
            self._codec.containers([value or b""], contract)
        except CodecError as exc:
            return str(exc)
        return None

    def _send(self, message: Any, reason: str, errors: DeliveryErrors) -> None:
        topic, partition, offset, key, value = (message.topic(), message.partition(), message.offset(),
                                                message.key(), message.value())
        letter = dead_letter("sink", reason, topic, partition, offset, key, value, None,
                             f"sink:{topic}:{partition}:{offset}", None)
        self._producer_made().produce(DEADLETTER, self._codec.encode(DEADLETTER, "DeadLetter", letter), key,
                                      on_delivery=errors)

    def _producer_made(self) -> Producer:
        if self._producer is None:
            self._producer = Producer(producer_config(self._bootstrap))
        return self._producer
