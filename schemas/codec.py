"""Avro in the Confluent wire format: magic byte 0, a 4-byte schema id, the body.

This module is the only place that knows the header and calls fastavro; every
topic's messages go through it. Schemas are parsed once; library errors are
wrapped in :class:`CodecError` with a message that says what is wrong.
"""

from __future__ import annotations

import io
import json
import struct
from typing import Any

from fastavro import parse_schema, schemaless_reader, schemaless_writer

from schemas.contracts import contract_text, load_contract
from schemas.registry import SchemaRegistry, UnknownSchemaError

MAGIC = 0
_HEADER = struct.Struct(">bI")

Record = dict[str, Any]


class CodecError(ValueError):
    """A message that cannot be encoded or decoded, with the reason."""


class AvroCodec:
    """Encodes and decodes the engine's records for one schema registry."""

    def __init__(self, registry: SchemaRegistry) -> None:
        self._registry = registry
        self._writers: dict[tuple[str, str], tuple[bytes, Any]] = {}
        self._readers: dict[int, Any] = {}

    def _writer(self, topic: str, contract: str) -> tuple[bytes, Any]:
        key = (topic, contract)
        writer = self._writers.get(key)
        if writer is None:
            schema_id = self._registry.register(f"{topic}-value", contract_text(contract))
            schema = load_contract(contract)
            self._readers.setdefault(schema_id, schema)
            writer = self._writers[key] = (_HEADER.pack(MAGIC, schema_id), schema)
        return writer

    def encode(self, topic: str, contract: str, record: Record) -> bytes:
        header, schema = self._writer(topic, contract)
        out = io.BytesIO()
        out.write(header)
        try:
            schemaless_writer(out, schema, record)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise CodecError(f"cannot encode {contract} for {topic}: {exc}") from exc
        return out.getvalue()

    def _reader(self, schema_id: int) -> Any:
        schema = self._readers.get(schema_id)
        if schema is None:
            text = self._registry.schema_text(schema_id)
            schema = self._readers[schema_id] = parse_schema(json.loads(text))
        return schema

    def decode(self, data: bytes | None) -> Record:
        if data is None or len(data) < _HEADER.size:
            raise CodecError("not Confluent-framed Avro: message shorter than the 5-byte header")
        magic, schema_id = _HEADER.unpack_from(data)
        if magic != MAGIC:
            raise CodecError(f"not Confluent-framed Avro: magic byte {magic}, expected 0")
        try:
            schema = self._reader(schema_id)
        except UnknownSchemaError as exc:
            raise CodecError(str(exc)) from exc
        body = io.BytesIO(data)
        body.seek(_HEADER.size)
        try:
            record = schemaless_reader(body, schema, None, return_record_name=True)
        except Exception as exc:  # fastavro raises many types on bad bytes
            raise CodecError(f"Avro body does not match schema id {schema_id}: {exc!r}") from exc
        if body.tell() != len(data):
            raise CodecError(f"{len(data) - body.tell()} bytes left after the Avro body of schema id {schema_id}")
        if not isinstance(record, dict):
            raise CodecError(f"schema id {schema_id} does not describe a record")
        return record
