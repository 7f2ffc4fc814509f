"""The members table's storage, written around Faust's per-key path: one RocksDB batch and fast changelog sends.

Faust writes a table key by sending its changelog record through a buffer of
100 messages that its aiokafka producer drains one Python call at a time; the
stream waits while the buffer is over that size. Writing a few thousand member
states every half second filled it at once and held the stream up for
seconds. Here a partition's states are written to its RocksDB in one write
batch, and their changelog records go through confluent-kafka's producer.
Faust still owns the table: it opens the RocksDB of each assigned partition and
restores it from the changelog after a move or a crash, from the offset this
store records once a record is on the broker (as Faust does after its own sends).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from confluent_kafka import Producer
from faust.types import TP
from rocksdict import WriteBatch

from streams.changelog import end_partitions
from streams.kafka import DeliveryErrors, produce_waiting, producer_config
from streams.topics import MEMBERS_CHANGELOG


class FaustTableStore:
    """A Faust RocksDB table's partitions, written in batches, its changelog sent by confluent-kafka."""

    def __init__(self, table: Any, bootstrap: str, changelog: str = MEMBERS_CHANGELOG) -> None:
        self._table = table
        self._changelog = changelog
        # Reports for every record, not only failures: the offsets stored are what recovery starts from.
        self._producer = Producer(producer_config(bootstrap, **{"delivery.report.only.error": False}))
        self._stored: dict[int, int] = {}  # partition -> highest changelog offset on the broker
        self._errors = DeliveryErrors()

    def _db(self, partition: int) -> Any:
        return self._table.data._db_for_partition(partition)  # Faust opens (and closes) each partition's RocksDB

    def get(self, partition: int, key: bytes) -> bytes | None:
        return self._db(partition).get(key)

    def write(self, partition: int, items: Iterable[tuple[bytes, bytes]]) -> None:
        """Store ``items`` in ``partition``: all of them locally at once; durable once :meth:`flush` returns."""
        batch = WriteBatch(raw_mode=True)
        producer, topic, delivered = self._producer, self._changelog, self._delivered
        for key, value in items:
            batch.put(key, value)
            produce_waiting(producer, topic, value, key, partition=partition, on_delivery=delivered)
        self._db(partition).write(batch)
        producer.poll(0)

    def _delivered(self, err: Any, msg: Any) -> None:
        if err is not None:
            self._errors(err, msg)
        elif msg.offset() > self._stored.get(msg.partition(), -1):
            self._stored[msg.partition()] = msg.offset()

    def flush(self) -> None:
        """Block until everything written is in the changelog, then record how far; raise if some is not."""
        self._producer.flush()
        self._errors.raise_if_any()
        # The changelog ends in a one-record batch after every write (see ``streams.changelog``): a broker that ends
        # a partition at its last batch's first offset then tells Faust the true end, so a partition that moves to
        # another worker while the engine runs is recovered whole, and not refused as behind its RocksDB.
        end_partitions(self._producer, self._errors, self._changelog, self._stored)
        store, stored = self._table.data, self._stored
        for partition, offset in stored.items():
            if partition in store._dbs:  # still assigned here
                store.set_persisted_offset(TP(self._changelog, partition), offset)
        stored.clear()

    def close(self) -> None:
        self._producer.flush(10)
