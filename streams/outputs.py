"""Publishing what the member agent decided, through confluent-kafka's fast producer.

Faust's own sends cost too much per message for ledger-sized volumes; the
agent awaits :meth:`OutputPublisher.publish` so a batch's outputs are on the
broker before its member states are written and its offset is committed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from confluent_kafka import Producer

from streams.kafka import DeliveryErrors, produce_waiting, producer_config
from streams.member_batches import Message


class OutputPublisher:
    def __init__(self, bootstrap: str) -> None:
        self._errors = DeliveryErrors()
        self._producer = Producer(producer_config(bootstrap))

    def _publish_blocking(self, messages: Iterable[Message]) -> None:
        for message in messages:
            produce_waiting(self._producer, message.topic, message.value, message.key, on_delivery=self._errors)
        self._producer.flush()
        self._errors.raise_if_any()

    async def publish(self, messages: list[Message]) -> None:
        if messages:
            await asyncio.get_running_loop().run_in_executor(None, self._publish_blocking, messages)

    def close(self) -> None:
        self._producer.flush(10)
