"""The Faust worker: the member agent over member batches.

State lives in the ``members`` table (RocksDB on local disk, changelog in
Kafka). A batch is applied, its outputs are published and flushed, and only
then are the touched members' states written; Faust commits the batch offset
after that. A crash at any point replays the batch, and the rules' event-id
dedup turns the replay into no change.
"""

from __future__ import annotations

import logging
from typing import Any

import faust
from faust.web import Request, Response, View

from processors.program import Program
from schemas.codec import AvroCodec
from schemas.registry import registry_for
from streams.member_batches import MemberBatchApplier
from streams.outputs import OutputPublisher
from streams.program_file import load_program
from streams.settings import Settings
from streams.topics import MEMBER_BATCHES, MEMBERS_CHANGELOG

APP_ID = "loyalty"
TABLE = "members"

log = logging.getLogger(__name__)


def create_app(settings: Settings, bootstrap: str, program: Program | None = None) -> faust.App:
    program = program or load_program(settings.program_file)
    codec = AvroCodec(registry_for(settings.schema_registry_url))
    assert f"{APP_ID}-{TABLE}-changelog" == MEMBERS_CHANGELOG
    app = faust.App(
        APP_ID,
        broker=f"kafka://{bootstrap}",
        store="rocksdb://",
        datadir=str((settings.data_dir / "worker").resolve()),
        topic_partitions=settings.partitions,
        broker_session_timeout=6,
        broker_heartbeat_interval=1,
        consumer_auto_offset_reset="earliest",
        web_port=settings.worker_web_port,
        web_host="127.0.0.1",
        web_bind="127.0.0.1",
        producer_linger_ms=5,
        # One record (one member batch) per partition and fetch: Faust resumes fetching a little before it
        # seeks to the committed offsets, and a seek then drops what was buffered; keep that to nothing.
        consumer_max_fetch_size=1,
        broker_max_poll_records=1,
    )
    batches = app.topic(MEMBER_BATCHES, key_serializer="raw", value_serializer="raw",
                        partitions=settings.partitions, internal=False)
    members = app.Table(TABLE, key_type=bytes, value_type=bytes, partitions=settings.partitions)
    applier = MemberBatchApplier(codec, program, MEMBERS_CHANGELOG)
    publisher = OutputPublisher(bootstrap)
    counts = {"batches": 0, "applied": 0, "duplicates": 0, "refused": 0}

    @app.agent(batches)
    async def apply_member_batches(stream: Any) -> None:
        async for event in stream.events():
            message = event.message
            result = applier.apply(event.value, message.partition, message.offset,
                                   lambda member_id: members.get(member_id.encode()))
            await publisher.publish(result.messages)
            for member_id, state in result.states.items():
                members[member_id.encode()] = applier.encode_state(state)
            applier.remember(result.states)
            counts["batches"] += 1
            counts["applied"] += result.applied
            counts["duplicates"] += result.duplicates
            counts["refused"] += result.refused

    @app.on_partitions_revoked.connect
    async def _forget_cached_states(*_: Any, **__: Any) -> None:
        applier.forget()

    @app.page("/progress/")
    class Progress(View):
        async def get(self, request: Request) -> Response:
            return self.json(counts)

    return app
