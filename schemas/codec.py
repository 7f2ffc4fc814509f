"""Avro in the Confluent wire format: magic byte 0, a 4-byte schema id, the body.

This module is the only place that knows the header and calls fastavro; every
topic's messages go through it. Schemas are parsed once; library errors are
wrapped in :class:`CodecError` with a message that says what is wrong.
"""

from __future__ import annotations

import io
import json
import os
import struct
from collections import defaultdict
from collections.abc import Iterable
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
        self._container_headers: dict[tuple[int, str], bytes] = {}

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

    def containers(self, values: Iterable[bytes], contract: str) -> list[bytes]:
        """Messages as Avro object container files, one per writer schema.

        ClickHouse reads a container natively (``FORMAT Avro``): the sink hands
        the messages' bodies on as they are instead of decoding them. Every
        writer schema must carry each field of ``contract`` that has no default,
        as Avro's schema resolution demands of a reader; a missing one is an error.
        """
        bodies: dict[int, list[bytes]] = defaultdict(list)
        for value in values:
            if len(value) < _HEADER.size or value[0] != MAGIC:
                raise CodecError("not Confluent-framed Avro: no magic byte 0 and 4-byte schema id")
            bodies[int.from_bytes(value[1:5], "big")].append(value[_HEADER.size:])
        return [self._container_header(schema_id, contract) + _block(found) for schema_id, found in bodies.items()]

    def _container_header(self, schema_id: int, contract: str) -> bytes:
        header = self._container_headers.get((schema_id, contract))
        if header is None:
            try:
                text = self._registry.schema_text(schema_id)
            except UnknownSchemaError as exc:
                raise CodecError(str(exc)) from exc
            written = {field["name"] for field in json.loads(text).get("fields", ())}
            missing = [field["name"] for field in load_contract(contract)["fields"]
                       if "default" not in field and field["name"] not in written]
            if missing:
                raise CodecError(f"schema id {schema_id} lacks {contract} field(s) {', '.join(missing)}, "
                                 "which have no default: produce with the current contract")
            metadata = {b"avro.schema": text.encode(), b"avro.codec": b"null"}
            header = b"Obj\x01" + _long(len(metadata))
            for key, item in metadata.items():
                header += _long(len(key)) + key + _long(len(item)) + item
            header = self._container_headers[(schema_id, contract)] = header + _long(0) + _SYNC
        return header


# An object container repeats its 16-byte sync marker after every block; any value will do.
_SYNC = os.urandom(16)


def _block(bodies: list[bytes]) -> bytes:
    data = b"".join(bodies)
    return _long(len(bodies)) + _long(len(data)) + data + _SYNC


def _long(n: int) -> bytes:
    """Avro's long: zig-zag, then 7 bits a byte, low bits first."""
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)
