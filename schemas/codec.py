"""Avro in the Confluent wire format: magic byte 0, a 4-byte schema id, the body.

This module is the only place that knows the header and encodes or decodes a
message; every topic's messages go through it. The messages are the worker's
largest cost, so the work is cavro's: it reads and writes these records in about
half fastavro's time (``fastavro`` loads the contract files and gives the
registry its canonical forms). Schemas are parsed once; library errors are
wrapped in :class:`CodecError` with a message that says what is wrong.
"""

from __future__ import annotations

import json
import os
import struct
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import cavro

from schemas.contracts import NAMESPACE, contract_text, load_contract
from schemas.registry import SchemaRegistry, UnknownSchemaError

MAGIC = 0
_HEADER = struct.Struct(">bI")

Record = dict[str, Any]

# Records as dicts, a union's record branch as (full name, record) and naive datetimes as UTC: what the
# engine's records look like on both sides.
_OPTIONS = cavro.Options(
    record_decodes_to_dict=True,
    union_decodes_to=cavro.UnionDecodeOption.TYPE_TUPLE_IF_RECORD,
    allow_tuple_notation=True,
    naive_dt_assume_utc=True,
)
# Read after a message's body: it finds the end of the message, or bytes the schema did not account for.
_ONE_BYTE = cavro.Schema('{"type": "fixed", "name": "OneByte", "size": 1}')


class CodecError(ValueError):
    """A message that cannot be encoded or decoded, with the reason."""


class AvroCodec:
    """Encodes and decodes the engine's records for one schema registry."""

    def __init__(self, registry: SchemaRegistry) -> None:
        self._registry = registry
        self._writers: dict[tuple[str, str], tuple[bytes, cavro.Schema]] = {}
        self._readers: dict[int, cavro.Schema] = {}
        self._resolved: dict[tuple[int, str], cavro.Schema] = {}  # (writer's schema id, contract): its reader
        self._container_headers: dict[tuple[int, str], bytes] = {}

    def _writer(self, topic: str, contract: str) -> tuple[bytes, cavro.Schema]:
        key = (topic, contract)
        writer = self._writers.get(key)
        if writer is None:
            schema_id = self._registry.register(f"{topic}-value", contract_text(contract))
            writer = self._writers[key] = (_HEADER.pack(MAGIC, schema_id), self._reader(schema_id))
        return writer

    def encode(self, topic: str, contract: str, record: Record) -> bytes:
        header, schema = self._writer(topic, contract)
        try:
            body: bytes = schema.binary_encode(record)
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
            raise CodecError(f"cannot encode {contract} for {topic}: {exc}") from exc
        return header + body

    def _reader(self, schema_id: int) -> cavro.Schema:
        schema = self._readers.get(schema_id)
        if schema is None:
            text = self._registry.schema_text(schema_id)
            try:
                schema = cavro.Schema(text, options=_OPTIONS)
            except Exception as exc:  # cavro raises many types on a schema it cannot use
                raise CodecError(f"schema id {schema_id} is not a usable Avro schema: {exc}") from exc
            self._readers[schema_id] = schema
        return schema

    def decode(self, data: bytes | None, contract: str | None = None) -> Record:
        """The record in ``data``, as its writer's schema has it, or, given a ``contract``, as that contract has it.

        A producer may write with another version of the contract (an earlier one, or one that added or left out
        fields with defaults, as the registry's compatibility rules allow): Avro's schema resolution reads it as
        the contract, with the defaults of the fields it lacks and without those the contract does not know.
        """
        if data is None or len(data) < _HEADER.size:
            raise CodecError("not Confluent-framed Avro: message shorter than the 5-byte header")
        magic, schema_id = _HEADER.unpack_from(data)
        if magic != MAGIC:
            raise CodecError(f"not Confluent-framed Avro: magic byte {magic}, expected 0")
        try:
            schema = self._reader(schema_id) if contract is None else self._resolved_reader(schema_id, contract)
        except UnknownSchemaError as exc:
            raise CodecError(str(exc)) from exc
        body = cavro.MemoryReader(memoryview(data)[_HEADER.size:])
        try:
            record = schema.binary_read(body)
        except Exception as exc:  # cavro raises many types on bad bytes
            raise CodecError(f"Avro body does not match schema id {schema_id}: {exc!r}") from exc
        try:
            _ONE_BYTE.binary_read(body)
        except EOFError:
            pass
        else:
            raise CodecError(f"bytes left after the Avro body of schema id {schema_id}")
        if not isinstance(record, dict):
            raise CodecError(f"schema id {schema_id} does not describe a record")
        return record

    def _resolved_reader(self, schema_id: int, contract: str) -> cavro.Schema:
        """What reads a message of ``schema_id`` as ``contract``."""
        key = (schema_id, contract)
        schema = self._resolved.get(key)
        if schema is None:
            writer = self._reader(schema_id)
            text = self._registry.schema_text(schema_id)
            written, wanted = _full_name(json.loads(text)), f"{NAMESPACE}.{contract}"
            if written != wanted:
                raise CodecError(f"schema id {schema_id} is {written}, not {wanted}: this topic carries {contract} "
                                 "messages only")
            if text == contract_text(contract):
                schema = writer
            else:
                try:
                    schema = cavro.Schema(contract_text(contract), options=_OPTIONS).reader_for_writer(writer)
                except Exception as exc:  # cavro raises many types on schemas that do not resolve
                    raise CodecError(f"schema id {schema_id} cannot be read as the {contract} contract "
                                     f"(not a compatible version of it): {exc}") from exc
            self._resolved[key] = schema
        return schema

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


def _full_name(schema: Any) -> str:
    """A named schema's full name (``loyalty.v1.LoyaltyEvent``), or its type for an unnamed one."""
    if not isinstance(schema, dict):
        return str(schema)
    name = str(schema.get("name", schema.get("type")))
    namespace = schema.get("namespace")
    return name if "." in name or not namespace else f"{namespace}.{name}"


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
