"""A members table partition that moves between running workers is recovered whole from its changelog.

The embedded broker ends a partition at "first offset of its last batch + 1". Faust trusts that end when a
partition moves to another worker; a worker whose RocksDB is ahead of it crashes (``ConsistencyError``), one
without it stops short. The changelog must end in a one-record batch after every write, not only at start.
"""

from __future__ import annotations

from pathlib import Path

import faust
from confluent_kafka import Consumer, TopicPartition
from faust.types import TP

from streams.embedded import EmbeddedBroker
from streams.member_store import FaustTableStore
from streams.topics import MEMBERS_CHANGELOG


def test_the_members_changelog_tells_its_true_end_after_every_write(broker: EmbeddedBroker, tmp_path: Path) -> None:
    app = faust.App("loyalty", broker=f"kafka://{broker.bootstrap}", store="rocksdb://", datadir=str(tmp_path / "w"))
    table = app.Table("members", key_type=bytes, value_type=bytes, partitions=4)
    store = FaustTableStore(table, broker.bootstrap)
    partition = 2
    for step in range(3):
        store.write(partition, [(f"member-{step}-{n}".encode(), b"state") for n in range(20)])
        store.flush()
    persisted = table.data.persisted_offset(TP(MEMBERS_CHANGELOG, partition))
    store.close()

    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "end-probe"})
    try:
        _low, end = consumer.get_watermark_offsets(TopicPartition(MEMBERS_CHANGELOG, partition), timeout=5,
                                                   cached=False)
    finally:
        consumer.close()
    assert persisted is not None and persisted < end  # Faust: ConsistencyError when persisted > end - 1
