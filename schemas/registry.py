"""Where schema ids come from: a real schema registry, or the embedded one.

The embedded registry derives each id from the schema's canonical form, so
every process computes the same id for the same schema without sharing any
storage, and it knows every version of the contracts the engine has shipped
(see ``contracts``), so messages an earlier version wrote still decode; a real
registry (any Confluent-compatible URL) is used through confluent-kafka's own client.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from typing import Protocol

from fastavro.schema import to_parsing_canonical_form

from schemas.contracts import contract_names, contract_text, recorded_versions

EMBEDDED_URL = "embedded://"


class SchemaRegistry(Protocol):
    def register(self, subject: str, schema_text: str) -> int: ...

    def schema_text(self, schema_id: int) -> str: ...


class UnknownSchemaError(LookupError):
    pass


def embedded_id(schema_text: str) -> int:
    """The embedded registry's id of a schema: the first 31 bits of the SHA-256 of its canonical form."""
    return _id_of(to_parsing_canonical_form(json.loads(schema_text)))


def _id_of(canonical: str) -> int:
    return int.from_bytes(hashlib.sha256(canonical.encode()).digest()[:4], "big") & 0x7FFF_FFFF


_LOGICAL_KEYS = ("logicalType", "precision", "scale")


def _logical_types(schema: object) -> list[tuple[object, ...]]:
    """The logical types in ``schema``, in the order they appear: Parsing Canonical Form leaves them out, yet they
    decide what a value reads as (milliseconds or microseconds since the epoch, a decimal's scale)."""
    found: list[tuple[object, ...]] = []
    if isinstance(schema, dict):
        if "logicalType" in schema:
            found.append(tuple(schema.get(key) for key in _LOGICAL_KEYS))
        for key, value in schema.items():
            if key not in ("default", "doc"):
                found += _logical_types(value)
    elif isinstance(schema, list):
        for item in schema:
            found += _logical_types(item)
    return found


@cache
def _earlier_versions() -> dict[int, str]:
    """The recorded versions by id, which their file names carry (``loyalty.v1.Name.ID.json``)."""
    return {int(name.rsplit(".", 2)[1]): text for name, text in recorded_versions().items()}


class EmbeddedRegistry:
    """Content-addressed ids (see :func:`embedded_id`), for the contracts and every earlier version of them."""

    def __init__(self) -> None:
        self._by_id: dict[int, str] = {}
        for name in contract_names():
            self.register(name, contract_text(name))

    def register(self, subject: str, schema_text: str) -> int:
        """The schema's id. One that shares its id with a different schema (another canonical form, or the same
        with other logical types) is refused: a message written with one would be read as the other."""
        schema = json.loads(schema_text)
        canonical = to_parsing_canonical_form(schema)
        schema_id = _id_of(canonical)
        known = self._by_id.get(schema_id) or _earlier_versions().get(schema_id) or schema_text
        known_schema = json.loads(known)
        if (to_parsing_canonical_form(known_schema) != canonical
                or _logical_types(known_schema) != _logical_types(schema)):
            raise UnknownSchemaError(f"schema id {schema_id} collides for subject {subject}: rename a field or type")
        self._by_id.setdefault(schema_id, schema_text)
        return schema_id

    def schema_text(self, schema_id: int) -> str:
        text = self._by_id.get(schema_id) or _earlier_versions().get(schema_id)
        if text is None:
            raise UnknownSchemaError(
                f"schema id {schema_id} is not one of this engine's schemas; "
                "point LOYALTY_SCHEMA_REGISTRY_URL at the registry the producer used"
            )
        return text


class ConfluentRegistry:
    """A Confluent-compatible registry over HTTP (or confluent-kafka's ``mock://``)."""

    def __init__(self, url: str) -> None:
        from confluent_kafka.schema_registry import SchemaRegistryClient

        # new_client gives the in-process registry for a mock:// URL, the HTTP client for any other
        self._client = SchemaRegistryClient.new_client({"url": url})

    def register(self, subject: str, schema_text: str) -> int:
        from confluent_kafka.schema_registry import Schema

        return int(self._client.register_schema(subject, Schema(schema_text, "AVRO")))

    def schema_text(self, schema_id: int) -> str:
        from confluent_kafka.schema_registry.error import SchemaRegistryError

        try:
            text = self._client.get_schema(schema_id).schema_str
        except SchemaRegistryError as exc:
            if exc.http_status_code == 404:
                raise UnknownSchemaError(f"schema id {schema_id} is not in the registry: {exc}") from exc
            raise
        if text is None:
            raise UnknownSchemaError(f"schema id {schema_id} has no text in the registry")
        return text


def registry_for(url: str) -> SchemaRegistry:
    if url in (EMBEDDED_URL, "embedded", ""):
        return EmbeddedRegistry()
    return ConfluentRegistry(url)
