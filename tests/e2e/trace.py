"""Where lost events went: for a failing end-to-end test to say, not to guess."""

from __future__ import annotations

import time

from confluent_kafka import Consumer, KafkaError, TopicPartition

from streams.ingest_loop import INGEST_GROUP
from streams.sink_loop import SINK_GROUP
from streams.topics import topic_names
from streams.worker import APP_ID

GROUPS = (INGEST_GROUP, APP_ID, SINK_GROUP)


def on_kafka(bootstrap: str, event_ids: list[str], timeout: float = 60) -> str:
    """Every message of every engine topic whose bytes hold one of ``event_ids``, and the groups' offsets.

    An event id is in its input message, in the member batch that carries it and
    in the outputs made of it, so the first topic it is missing from is where
    it was lost.
    """
    config = {"bootstrap.servers": bootstrap, "group.id": "loyalty-test-trace", "enable.partition.eof": True,
              "enable.auto.commit": False}
    reader = Consumer(config)
    lines = []
    try:
        partitions = [TopicPartition(topic, p, 0) for topic, found in reader.list_topics(timeout=10).topics.items()
                      if topic in topic_names() for p in found.partitions]
        reader.assign(partitions)
        unread = {(tp.topic, tp.partition) for tp in partitions}
        wanted = [event_id.encode() for event_id in event_ids]
        deadline = time.monotonic() + timeout
        while unread and time.monotonic() < deadline:
            for message in reader.consume(1000, 0.5):
                error = message.error()
                if error is not None and error.code() == KafkaError._PARTITION_EOF:
                    unread.discard((message.topic(), message.partition()))
                elif error is None:
                    lines += [f"{event_id.decode()} in {message.topic()}[{message.partition()}] at {message.offset()}"
                              for event_id in wanted if event_id in (message.value() or b"")]
        if unread:
            lines.append(f"not read to the end in {timeout:.0f} s: {sorted(unread)}")
        for group in GROUPS:
            member = Consumer({**config, "group.id": group})
            committed = member.committed(partitions, timeout=10)
            member.close()
            lines.append(f"group {group} committed: " + ", ".join(
                f"{tp.topic}[{tp.partition}]={tp.offset}" for tp in committed if tp.offset >= 0))
    finally:
        reader.close()
    return "\n".join(lines)
