"""Writing output records to ClickHouse as the sink does: Avro-encoded, then in object containers."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from schemas.codec import AvroCodec
from schemas.registry import EmbeddedRegistry
from sinks.clickhouse import ClickHouseStore


@cache
def _codec() -> AvroCodec:
    return AvroCodec(EmbeddedRegistry())


def store_records(store: ClickHouseStore, topic: str, records: Sequence[dict[str, Any]]) -> None:
    codec, contract = _codec(), store.table_for(topic).contract
    store.insert(topic, codec.containers([codec.encode(topic, contract, record) for record in records], contract))
