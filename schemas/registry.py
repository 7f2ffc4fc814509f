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


@cache
def _earlier_versions() -> dict[int, str]:
    """The recorded versions by id, which their file names carry (``loyalty.v1.Name.ID.json``): read only once a
    message names an id that no current contract has."""
    return {int(name.rsplit(".", 2)[1]): text for name, text in recorded_versions().items()}


class EmbeddedRegistry:
    """Content-addressed ids (see :func:`embedded_id`), for the contracts and every earlier version of them."""

    def __init__(self) -> None:
        self._by_id: dict[int, str] = {}
        for name in contract_names():
            self.register(name, contract_text(name))

    def register(self, subject: str, schema_text: str) -> int:
        canonical = to_parsing_canonical_form(json.loads(schema_text))
        schema_id = _id_of(canonical)
        known = self._by_id.setdefault(schema_id, schema_text)
        if to_parsing_canonical_form(json.loads(known)) != canonical:
            raise UnknownSchemaError(f"schema id {schema_id} collides for subject {subject}: rename a field or type")
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

        self._client = SchemaRegistryClient({"url": url})

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
