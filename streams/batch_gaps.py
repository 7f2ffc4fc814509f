"""Member batches are applied in offset order, each exactly once per partition, whatever the consumer does.

The member agent remembers, per partition and in the members table itself, the
offset of the last batch it applied. A batch at or below it was already applied
(a redelivery after a restart) and is skipped; a batch above the next expected
offset means the stream skipped some (Faust resumes fetching a moment before
it seeks to the committed offsets, and a seek drops what was buffered), so the
missing batches are read straight from Kafka and applied first. Nothing then
depends on the framework's timing: every batch is applied, in order, once.
"""

from __future__ import annotations

import threading
import time

from confluent_kafka import Consumer, KafkaError, TopicPartition

from streams.kafka import consume_arrived, consumer_config
from streams.topics import MEMBER_BATCHES

# The table key under which a partition's last applied batch offset is kept; never a member id.
APPLIED_OFFSET_KEY = b"\x00applied-batch-offset"
NOTHING_APPLIED = -1


class BatchReader:
    """Reads member batches by offset, outside any consumer group."""

    def __init__(self, bootstrap: str, topic: str = MEMBER_BATCHES) -> None:
        self._topic = topic
        # The end of a partition is taken from end-of-partition events, which come with fetch responses:
        # some brokers misreport end offsets to ListOffsets.
        self._consumer = Consumer(consumer_config(bootstrap, "loyalty-batch-gap-reader",
                                                  **{"enable.partition.eof": True}))
        self._lock = threading.Lock()  # one read at a time: the consumer is assigned one partition per read

    def read(self, partition: int, start: int, end: int | None, timeout: float = 60.0,
             most: int | None = None) -> list[tuple[int, bytes]]:
        """The batches at offsets ``start`` up to ``end`` (exclusive) of ``partition``, in order; the first
        ``most`` of them if that is fewer.

        With ``end`` None: whatever is there from ``start`` on, up to the end of the partition when the
        read began. A partition that is being written to may never report its end (on the embedded
        broker, new batches come in while each fetch waits), so the end is the high watermark that the
        first fetch brought back.
        """
        with self._lock:
            return self._read(partition, start, end, timeout, most)

    def _read(self, partition: int, start: int, end: int | None, timeout: float,
              most: int | None) -> list[tuple[int, bytes]]:
        self._consumer.assign([TopicPartition(self._topic, partition, start)])
        batches: list[tuple[int, bytes]] = []
        position, deadline = start, time.monotonic() + timeout
        try:
            while end is None or position < end:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{self._topic}[{partition}]: offsets {position}..{end} "
                                       f"not readable in {timeout:.0f} s")
                for message in consume_arrived(self._consumer, 1000 if end is None else end - position, 0.5):
                    error = message.error()
                    if error is not None and error.code() == KafkaError._PARTITION_EOF:
                        if end is None:
                            return batches
                        continue
                    if error is not None:
                        raise RuntimeError(f"reading {self._topic}[{partition}]: {error}")
                    if message.partition() != partition:  # fetched for an earlier read: this consumer is reused
                        continue
                    offset = message.offset()
                    if end is not None and offset >= end:
                        position = end
                        break
                    if offset >= position:
                        batches.append((offset, message.value()))
                        position = offset + 1
                        if len(batches) == most:
                            return batches
                if end is None and batches:
                    high = self._consumer.get_watermark_offsets(TopicPartition(self._topic, partition),
                                                                cached=True)[1]
                    if high >= 0:  # known: the fetches so far came with it
                        end = max(high, position)
            return batches
        finally:
            self._consumer.unassign()

    def close(self) -> None:
        self._consumer.close()
