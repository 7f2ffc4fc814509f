"""The Faust worker: the member agent over member batches.

State lives in the ``members`` table (RocksDB on local disk, changelog in
Kafka). Each member batch is one step of the agent (``member_agent``): it is
applied and its outputs handed to the producer; every few seconds the touched
members' states are taken and written a share each step, and once the outputs
they reflect are on the broker, stored with each partition's last applied
offset. A crash at any point replays batches,
which the offset check and the rules' event-id dedup turn into no change. A
timer looks for batches the stream failed to deliver.
"""

from __future__ import annotations

import logging
from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.web import Request, Response, View

from processors.program import Program
from schemas.codec import AvroCodec
from schemas.registry import registry_for
from streams.batch_gaps import BatchReader
from streams.member_agent import Batch, MemberAgent
from streams.member_batches import MemberBatchApplier
from streams.member_store import FaustTableStore
from streams.outputs import OutputPublisher
from streams.program_file import load_program
from streams.settings import Settings, worker_name
from streams.topics import MEMBER_BATCHES, MEMBERS_CHANGELOG, WORKER_GROUP

APP_ID = WORKER_GROUP
TABLE = "members"
CATCH_UP_SECONDS = 2.0

log = logging.getLogger(__name__)


def _consumer_with_fetch_wait(wait_ms: int) -> type[faust_aiokafka.Consumer]:
    """Faust's Kafka consumer with our fetch wait instead of its fixed 1.5 s.

    Some brokers (the embedded one) answer a waiting fetch only half-way
    through its wait or at its end, so the wait bounds latency; on Kafka it
    only bounds idle polling.
    """

    class Thread(faust_aiokafka.AIOKafkaConsumerThread):
        def _create_worker_consumer(self, transport: Any) -> Any:
            consumer = super()._create_worker_consumer(transport)
            consumer._fetch_max_wait_ms = wait_ms  # read by aiokafka when the consumer starts
            return consumer

    class Consumer(faust_aiokafka.Consumer):
        def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
            return Thread(self, loop=self.loop, beacon=self.beacon)

    return Consumer


class WorkerApp(faust.App):
    """Faust's app, and before it stops consuming, the member agent writes the states it has not written yet.

    Faust revokes no partitions when it stops, so without this a clean stop
    would leave up to ``WRITE_EVERY_SECONDS`` of applied batches to be applied
    again at the next start, and their outputs published twice.
    """

    member_agent: MemberAgent | None = None

    async def on_stop(self) -> None:
        if self.member_agent is not None:
            await self.member_agent.release()
        await super().on_stop()


def create_app(settings: Settings, bootstrap: str, program: Program | None = None, index: int = 0) -> faust.App:
    """Worker ``index`` of ``settings.workers``: they share the partitions, each with its own RocksDB."""
    program = program or load_program(settings.program_file)
    codec = AvroCodec(registry_for(settings.schema_registry_url))
    assert f"{APP_ID}-{TABLE}-changelog" == MEMBERS_CHANGELOG
    app = WorkerApp(
        APP_ID,
        broker=f"kafka://{bootstrap}",
        store="rocksdb://",
        datadir=str((settings.data_dir / worker_name(index)).resolve()),
        table_standby_replicas=0,  # a partition that moves is recovered from its changelog
        topic_partitions=settings.partitions,
        broker_session_timeout=6,
        broker_heartbeat_interval=1,
        consumer_auto_offset_reset="earliest",
        web_port=settings.worker_web_port_of(index),
        web_host="127.0.0.1",
        web_bind="127.0.0.1",
    )
    app.transport.Consumer = _consumer_with_fetch_wait(settings.fetch_wait_ms)  # type: ignore[misc]  # read per app
    batches = app.topic(MEMBER_BATCHES, key_serializer="raw", value_serializer="raw",
                        partitions=settings.partitions, internal=False)
    members = app.Table(TABLE, key_type=bytes, value_type=bytes, partitions=settings.partitions)
    agent = MemberAgent(FaustTableStore(members, bootstrap), MemberBatchApplier(codec, program),
                        OutputPublisher(bootstrap), BatchReader(bootstrap))

    @app.agent(batches)
    async def apply_member_batches(stream: Any) -> None:
        # One member batch a step, acked by hand once applied. Faust's take() is not used: it can pair a
        # value with the wrong event. Gathering batches for a few milliseconds was tried and measured slower:
        # ingest already sizes batches to the load, and a long step holds up Faust's own fetching.
        stream.enable_acks = False
        async for event in stream.events():
            await agent.apply([Batch(event.message.partition, event.message.offset, event.value)])
            await stream.ack(event)

    @app.timer(CATCH_UP_SECONDS)
    async def catch_up() -> None:
        assigned = app.consumer.assignment()
        await agent.catch_up(sorted(tp.partition for tp in assigned if tp.topic == MEMBER_BATCHES), CATCH_UP_SECONDS)

    @app.on_partitions_revoked.connect
    async def _forget_cached_states(*_: Any, **__: Any) -> None:
        await agent.release()

    app.member_agent = agent

    @app.page("/progress/")
    class Progress(View):
        async def get(self, request: Request) -> Response:
            return self.json(agent.counts)

    return app
