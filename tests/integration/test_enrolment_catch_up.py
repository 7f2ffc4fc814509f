"""Events refused before their member's enrolment go to the engine again once it is, from chDB to a real broker."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, TopicPartition
from stored_records import store_records

from schemas.codec import AvroCodec
from schemas.registry import EmbeddedRegistry
from sinks.clickhouse import ClickHouseStore
from streams.embedded import EmbeddedBroker
from streams.enrolment_catch_up import EnrolmentCatchUp
from streams.kafka import consumer_config
from streams.topics import ACTIVITY, DEADLETTER, EVENTS, ensure_topics

T0 = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)


def refused(event_id: str, member_id: str, offset: int) -> dict[str, Any]:
    """A member-stage dead letter of an event that came before its member's enrolment."""
    return {"dead_letter_id": f"member:{event_id}", "stage": "member", "event_id": event_id, "member_id": member_id,
            "reason": f"unknown member {member_id}: not enrolled (yet)", "topic": "loyalty.member-batches.v1",
            "partition": 0, "offset": offset, "key": member_id.encode(), "value": event_id.encode(),
            "recorded_at": T0 + dt.timedelta(minutes=offset)}


def enrolled(member_id: str) -> dict[str, Any]:
    return {"event_id": f"enrol-{member_id}", "member_id": member_id, "occurred_at": T0, "event_type": "enrolled",
            "channel": None, "store_id": None, "currency": None, "amount_minor": 0, "points": 0, "order_id": None,
            "lines": []}


def sent_again(bootstrap: str) -> list[tuple[bytes | None, bytes | None]]:
    """(key, value) of every message on the input topic, in order."""
    reader = Consumer(consumer_config(bootstrap, "test-reader", **{"enable.partition.eof": True}))
    reader.assign([TopicPartition(EVENTS, 0, 0)])
    found, end = [], False
    while not end:
        for message in reader.consume(100, 1.0):
            if message.error():
                end = True
            else:
                found.append((message.key(), message.value()))
    reader.close()
    return found


def test_each_goes_again_once_in_the_order_refused_as_soon_as_its_member_has_enrolled(
        tmp_path: Path, chdb_client: Any, ch_database: str) -> None:
    store = ClickHouseStore(chdb_client, ch_database)
    store.ensure_schema()
    store_records(store, DEADLETTER, [refused("return-1", "cleo", 3), refused("sale-1", "cleo", 1),
                                      refused("sale-2", "dan", 2)])
    store_records(store, ACTIVITY, [enrolled("cleo")])
    with EmbeddedBroker(log_dir=tmp_path / "broker") as broker:
        ensure_topics(broker.bootstrap, 1)
        catch_up = EnrolmentCatchUp(broker.bootstrap, AvroCodec(EmbeddedRegistry()), store)

        assert catch_up.look(letters_stored=3, now=100.0) == 2  # at the start: Cleo has enrolled, Dan not yet
        assert sent_again(broker.bootstrap) == [(b"cleo", b"sale-1"), (b"cleo", b"return-1")]  # the return after
        assert catch_up.look(3, 101.0) == 0  # nothing new

        store_records(store, ACTIVITY, [enrolled("dan")])
        assert catch_up.look(3, 104.0) == 0  # Dan's letter waits: looked at again every few seconds
        assert catch_up.look(3, 100.0 + EnrolmentCatchUp.EVERY_SECONDS) == 1
        assert sent_again(broker.bootstrap)[2:] == [(b"dan", b"sale-2")]

        store_records(store, DEADLETTER, [refused("sale-3", "cleo", 4)])  # the sink stored a new letter
        assert catch_up.look(4, 106.0) == 1  # looked at once, and Cleo's first two are not sent twice
        assert sent_again(broker.bootstrap)[3:] == [(b"cleo", b"sale-3")]
