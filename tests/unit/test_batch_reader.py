"""Reading missed member batches: only the partition asked for, whatever the reused consumer still holds.

librdkafka has, in some versions, handed out a message fetched for an earlier
assignment after a new one; a real consumer cannot be made to do it on demand,
so a stand-in plays it here.
"""

from __future__ import annotations

from typing import Any

from streams import batch_gaps
from streams.topics import MEMBER_BATCHES


class Message:
    def __init__(self, partition: int, offset: int) -> None:
        self._partition, self._offset = partition, offset

    def error(self) -> None:
        return None

    def topic(self) -> str:
        return MEMBER_BATCHES

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def value(self) -> bytes:
        return f"batch {self._partition}:{self._offset}".encode()


class StaleFirstConsumer:
    """Returns a message of partition 1 left over from an earlier read, then what was asked for."""

    def __init__(self, messages: list[Message]) -> None:
        self._messages = messages

    def assign(self, partitions: Any) -> None:
        pass

    def unassign(self) -> None:
        pass

    def poll(self, timeout: float) -> Message | None:
        return self._messages.pop(0) if self._messages else None

    def consume(self, count: int, timeout: float) -> list[Message]:
        taken, self._messages = self._messages[:count], self._messages[count:]
        return taken


def test_a_left_over_batch_of_another_partition_is_not_taken_for_one_of_this_partition(monkeypatch: Any) -> None:
    consumer = StaleFirstConsumer([Message(1, 7), *(Message(0, offset) for offset in range(3, 10))])
    monkeypatch.setattr(batch_gaps, "Consumer", lambda config: consumer)
    reader = batch_gaps.BatchReader("unused:9092")

    assert reader.read(0, 3, 10, timeout=5) == [(offset, f"batch 0:{offset}".encode()) for offset in range(3, 10)]
