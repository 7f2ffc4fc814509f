"""Events refused before their member's enrolment or their card's link go to the engine again once it has come,
from chDB to a real broker."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition
from stored_records import store_records

from schemas.codec import AvroCodec
from schemas.registry import EmbeddedRegistry
from sinks.clickhouse import ClickHouseStore
from streams.card_directory import CardLink
from streams.embedded import EmbeddedBroker
from streams.ingest import UNKNOWN_CARD
from streams.kafka import consumer_config, producer_config
from streams.refusal_catch_up import CARD_LINK, ENROLMENT, RefusalCatchUp
from streams.topics import ACTIVITY, CARDS, DEADLETTER, EVENTS, ensure_topics

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
        catch_up = RefusalCatchUp(broker.bootstrap, AvroCodec(EmbeddedRegistry()), store)

        assert catch_up.look(letters_stored=3, now=100.0) == {ENROLMENT: 2}  # at the start: Cleo has enrolled, Dan not
        assert sent_again(broker.bootstrap) == [(b"cleo", b"sale-1"), (b"cleo", b"return-1")]  # the return after
        assert catch_up.look(3, 101.0) == {}  # nothing new

        store_records(store, ACTIVITY, [enrolled("dan")])
        assert catch_up.look(3, 104.0) == {}  # Dan's letter waits: looked at again every few seconds
        assert catch_up.look(3, 100.0 + RefusalCatchUp.EVERY_SECONDS) == {ENROLMENT: 1}
        assert sent_again(broker.bootstrap)[2:] == [(b"dan", b"sale-2")]

        store_records(store, DEADLETTER, [refused("sale-3", "cleo", 4)])  # the sink stored a new letter
        assert catch_up.look(4, 106.0) == {ENROLMENT: 1}  # looked at once, and Cleo's first two are not sent twice
        assert sent_again(broker.bootstrap)[3:] == [(b"cleo", b"sale-3")]


def test_a_card_transaction_goes_again_once_its_card_is_linked_and_not_before(
        tmp_path: Path, chdb_client: Any, ch_database: str) -> None:
    codec = AvroCodec(EmbeddedRegistry())
    store = ClickHouseStore(chdb_client, ch_database)
    store.ensure_schema()
    transaction = card_transaction(codec, "bank-1", "tok_cleo")
    store_records(store, DEADLETTER, [card_letter("bank-1", transaction, 0)])
    with EmbeddedBroker(log_dir=tmp_path / "broker") as broker:
        ensure_topics(broker.bootstrap, 1)
        catch_up = RefusalCatchUp(broker.bootstrap, codec, store)
        link(broker.bootstrap, codec, "tok_other", "dan")
        link(broker.bootstrap, codec, "tok_cleo", "cleo", unlinked_at=T0)

        assert catch_up.look(1, 100.0) == {}  # another card was linked, and this one only with its link ended
        link(broker.bootstrap, codec, "tok_cleo", "cleo")
        assert catch_up.look(1, 101.0) == {}  # not looked at yet
        assert sent_again(broker.bootstrap) == []
        assert catch_up.look(1, 100.0 + RefusalCatchUp.EVERY_SECONDS) == {CARD_LINK: 1}
        assert sent_again(broker.bootstrap) == [(b"bank", transaction)]  # the original bytes, as they came

        store_records(store, DEADLETTER, [card_letter("bank-2", card_transaction(codec, "bank-2", "tok_cleo"), 1)])
        assert catch_up.look(2, 106.0) == {CARD_LINK: 1}  # the new one only

        store_records(store, DEADLETTER, [card_letter("bank-3", card_transaction(codec, "bank-3", "tok_dora"), 2)])
        link(broker.bootstrap, codec, "tok_dora", "dora", unlinked_at=T0 + dt.timedelta(hours=1))
        assert catch_up.look(3, 112.0) == {CARD_LINK: 1}  # unlinked since, but hers when the transaction was made


def card_transaction(codec: AvroCodec, event_id: str, token: str) -> bytes:
    body = {"order_id": event_id, "channel": "card", "store_id": None, "currency": "SEK", "total_minor": 100,
            "payment_method": "card", "partner_id": None, "points_used": 0,
            "lines": [{"line_id": "1", "sku": "S", "category": "c", "quantity": 1, "amount_minor": 100}]}
    return codec.encode(EVENTS, "LoyaltyEvent", {"event_id": event_id, "occurred_at": T0, "source": "bank",
                                                 "member_id": None, "card_token": token,
                                                 "body": ("loyalty.v1.Purchase", body)})


def card_letter(event_id: str, value: bytes, offset: int) -> dict[str, Any]:
    """An ingest-stage dead letter of a card transaction whose card was not linked."""
    return {"dead_letter_id": f"ingest:{event_id}", "stage": "ingest", "event_id": event_id, "member_id": None,
            "reason": f"{UNKNOWN_CARD} in Purchase {event_id}: the card is not linked to a member (yet)",
            "topic": EVENTS, "partition": 0, "offset": offset, "key": b"bank", "value": value,
            "recorded_at": T0 + dt.timedelta(minutes=offset)}


def link(bootstrap: str, codec: AvroCodec, token: str, member_id: str, unlinked_at: dt.datetime | None = None,
         ) -> None:
    """What ingest writes to the cards topic when it reads a CardLinked (or, ``unlinked_at``, a CardUnlinked)."""
    producer = Producer(producer_config(bootstrap))
    producer.produce(CARDS, codec.encode(CARDS, "CardLink", CardLink(member_id, T0, unlinked_at).record(token)),
                     token.encode())
    producer.flush()


def test_while_nothing_it_waits_for_comes_it_looks_less_and_less_often(
        tmp_path: Path, chdb_client: Any, ch_database: str) -> None:
    store = ClickHouseStore(chdb_client, ch_database)
    store.ensure_schema()
    store_records(store, DEADLETTER, [refused("sale-1", "dan", 1)])
    with EmbeddedBroker(log_dir=tmp_path / "broker") as broker:
        ensure_topics(broker.bootstrap, 1)
        catch_up = RefusalCatchUp(broker.bootstrap, AvroCodec(EmbeddedRegistry()), store)
        every = RefusalCatchUp.EVERY_SECONDS

        assert catch_up.look(1, 100.0) == {}  # Dan has not enrolled
        assert catch_up.look(1, 100.0 + every) == {}  # still not: the next look comes twice as late
        store_records(store, ACTIVITY, [enrolled("dan")])
        assert catch_up.look(1, 100.0 + 2 * every) == {}
        assert catch_up.look(1, 100.0 + 3 * every) == {ENROLMENT: 1}
