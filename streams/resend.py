"""Send refused events to the engine again, once what refused them is fixed.

The dead letters keep each refused event's original bytes. An operator links the
card, enrols the member or fixes the program, then sends them again: each keeps
its event_id, so one applied meanwhile changes nothing, and one still wrong is a
dead letter again, with its reason. What cannot be sent again says why.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Producer

from processors.dedup import REUSED_ID
from processors.refusals import FINAL
from schemas.codec import AvroCodec, CodecError
from streams.ingest import PAN_FOUND
from streams.kafka import DeliveryErrors, producer_config
from streams.records import ENGINE_MADE, body_type
from streams.topics import ENGINE_EVENTS, EVENTS


class Unsendable(Exception):
    """A dead letter that cannot be sent again, with the reason."""


@dataclass
class Resent:
    sent: Counter[str] = field(default_factory=Counter)  # by topic
    not_sent: list[tuple[str, str]] = field(default_factory=list)  # (dead letter id, why)


def destination(letter: Mapping[str, Any], codec: AvroCodec) -> str:
    """The topic ``letter``'s event goes to again: the engine's own for the events it makes, else the input."""
    if letter["stage"] == "sink":
        raise Unsendable("an output message the sink could not read, not an input: fix what wrote it")
    if letter["value"] is None:
        raise Unsendable("its bytes were not kept")
    if letter["reason"].endswith(FINAL):
        raise Unsendable("it was refused for good, and the engine takes it again as a duplicate: send a new event, "
                         "with a new event_id, to try again")
    if letter["reason"].startswith(REUSED_ID):
        raise Unsendable("its event_id names another event the member has already: send it from its source with "
                         "an event_id of its own")
    if letter["reason"].startswith(PAN_FOUND):
        raise Unsendable("it carried a card number, kept only masked: send it again from its source, with a card token")
    if letter["topic"] == ENGINE_EVENTS:
        return ENGINE_EVENTS
    try:
        made_here = body_type(codec.decode(letter["value"])) in ENGINE_MADE
    except (CodecError, KeyError, TypeError, IndexError):  # undecodable: ingest says so again
        made_here = False
    return ENGINE_EVENTS if made_here and letter["stage"] == "member" else EVENTS


def resend(bootstrap: str, codec: AvroCodec, letters: Iterable[Mapping[str, Any]]) -> Resent:
    """Produce each letter's original event, with its original key, and wait until the broker has them all."""
    resent, errors = Resent(), DeliveryErrors()
    producer = Producer(producer_config(bootstrap))
    for letter in letters:
        try:
            topic = destination(letter, codec)
        except Unsendable as exc:
            resent.not_sent.append((letter["dead_letter_id"], str(exc)))
            continue
        producer.produce(topic, letter["value"], letter["key"], on_delivery=errors)
        resent.sent[topic] += 1
    producer.flush()
    errors.raise_if_any()
    return resent
