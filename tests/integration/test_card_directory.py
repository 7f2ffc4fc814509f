"""The cards topic on a real broker, read back: each card's link, when it ended, and the links before it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from confluent_kafka import Producer

from schemas.codec import AvroCodec
from schemas.registry import EmbeddedRegistry
from streams.card_directory import CardDirectory, CardLink
from streams.embedded import EmbeddedBroker
from streams.kafka import producer_config
from streams.topics import CARDS, ensure_topics

T0 = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)


def test_the_directory_reads_each_cards_last_link_with_its_end_and_the_links_before_it(tmp_path: Path) -> None:
    codec = AvroCodec(EmbeddedRegistry())
    hours = [T0 + dt.timedelta(hours=n) for n in range(4)]
    written = [
        ("tok_a", CardLink("anna", hours[0])),
        ("tok_a", CardLink("anna", hours[0], hours[1])),  # Anna unlinked it, then Bo linked it
        ("tok_a", CardLink("bo", hours[2], earlier=(CardLink("anna", hours[0], hours[1]),))),
        ("tok_a", CardLink("bo", hours[2], hours[3], earlier=(CardLink("anna", hours[0], hours[1]),))),
        ("tok_a", CardLink("anna", hours[3], earlier=(CardLink("bo", hours[2], hours[3]),
                                                      CardLink("anna", hours[0], hours[1])))),  # and back to Anna
        ("tok_b", CardLink("cleo", hours[0])),
        ("tok_c", CardLink("dan", hours[0], hours[3])),
        ("tok_gone", CardLink("erik", hours[0])),
        ("tok_gone", None),  # Erik was erased
    ]
    with EmbeddedBroker(log_dir=tmp_path / "broker") as broker:
        ensure_topics(broker.bootstrap, 2)
        producer = Producer(producer_config(broker.bootstrap))
        for token, link in written:
            value = None if link is None else codec.encode(CARDS, "CardLink", link.record(token))
            producer.produce(CARDS, value, token.encode())
        producer.flush()

        directory = CardDirectory(broker.bootstrap, codec)
        assert directory.read_on() == {
            "tok_a": CardLink("anna", hours[3], earlier=(CardLink("bo", hours[2], hours[3]),
                                                         CardLink("anna", hours[0], hours[1]))),
            "tok_b": CardLink("cleo", hours[0]),
            "tok_c": CardLink("dan", hours[0], hours[3]),
        }
