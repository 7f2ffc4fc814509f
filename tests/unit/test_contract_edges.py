"""The contracts at their edges: schema ids, producers on other versions of a contract, and values the rules cannot
carry, each ending as a clear dead letter or read as the contract says."""

from __future__ import annotations

import copy
import io
import json
import struct
from datetime import UTC, datetime
from typing import Any

import fastavro

from schemas.codec import AvroCodec
from schemas.contracts import contract_text, load_contract
from schemas.registry import ConfluentRegistry, EmbeddedRegistry, UnknownSchemaError, registry_for
from streams.ingest import Ingest
from streams.offline import ConsumedMessage
from streams.records import event_from_record
from streams.topics import EVENTS, LEDGER

AT = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
LONG_MAX = 2**63 - 1


def purchase(**changes: Any) -> dict[str, Any]:
    body = {"order_id": "O1", "channel": "pos", "store_id": "store-1", "currency": "SEK", "total_minor": 29_900,
            "lines": [{"line_id": "1", "sku": "SHO-1", "category": "shoes", "quantity": 1, "amount_minor": 29_900}],
            "payment_method": None, "partner_id": None, "points_used": 0, **changes}
    return {"event_id": "order-1", "occurred_at": AT, "source": "pos:store-1", "member_id": "M1", "card_token": None,
            "body": ("loyalty.v1.Purchase", body)}


def ingested(codec: AvroCodec, value: bytes) -> tuple[list[str], int]:
    """The reasons of the dead letters and the number of events passed on."""
    result = Ingest(codec, partitions=4).process([ConsumedMessage(b"pos:store-1", value, 7, EVENTS)], received_at=AT)
    return [letter["reason"] for letter in result.dead_letters], sum(map(len, result.batches.values()))


class DictRegistry:
    """A registry as a Confluent one behaves: every schema registered gets the next id."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def register(self, subject: str, schema_text: str) -> int:
        if schema_text not in self.texts:
            self.texts.append(schema_text)
        return self.texts.index(schema_text) + 1

    def schema_text(self, schema_id: int) -> str:
        if not 1 <= schema_id <= len(self.texts):
            raise UnknownSchemaError(f"schema id {schema_id} is not in the registry")
        return self.texts[schema_id - 1]


def framed(registry: DictRegistry, schema: dict[str, Any], record: dict[str, Any]) -> bytes:
    """``record`` as a producer with its own ``schema`` writes it."""
    schema_id = registry.register(f"{EVENTS}-value", json.dumps(schema))
    body = io.BytesIO()
    fastavro.schemaless_writer(body, fastavro.parse_schema(schema), record)
    return struct.pack(">bI", 0, schema_id) + body.getvalue()


def producer_schema(change: Any) -> dict[str, Any]:
    """Today's LoyaltyEvent with ``change`` made to its Purchase record's fields."""
    schema = copy.deepcopy(load_contract("LoyaltyEvent"))
    [purchase_schema] = [branch for branch in schema["fields"][-1]["type"] if branch["name"] == "loyalty.v1.Purchase"]
    purchase_schema["fields"] = change(purchase_schema["fields"])
    return schema


# The embedded registry's ids


def time_schema(logical_type: str) -> str:
    return json.dumps({"type": "record", "name": "loyalty.v1.Clocked", "fields": [
        {"name": "at", "type": {"type": "long", "logicalType": logical_type}}]})


def test_two_schemas_that_read_the_same_bytes_as_different_times_never_share_an_id() -> None:
    """Parsing Canonical Form drops logical types: milliseconds and microseconds since the epoch look alike there,
    but a message written with one and read with the other is off by a factor of 1,000."""
    registry = EmbeddedRegistry()
    millis = registry.register("clocked-value", time_schema("timestamp-millis"))
    try:
        micros = registry.register("clocked-value", time_schema("timestamp-micros"))
    except UnknownSchemaError:  # refusing the second one is right too
        return
    assert micros != millis
    assert json.loads(registry.schema_text(micros))["fields"][0]["type"]["logicalType"] == "timestamp-micros"


def test_a_schema_that_differs_only_in_its_docs_keeps_its_id() -> None:
    registry = EmbeddedRegistry()
    schema = load_contract("LedgerEntry")
    undocumented = {**schema, "doc": "another text", "fields": [
        {key: value for key, value in field.items() if key != "doc"} for field in schema["fields"]]}

    assert registry.register(f"{LEDGER}-value", json.dumps(undocumented)) == registry.register(
        f"{LEDGER}-value", contract_text("LedgerEntry"))


# A Confluent registry


def test_a_mock_registry_url_gives_confluent_kafkas_in_process_registry() -> None:
    registry = registry_for("mock://contract-edges")
    schema_id = registry.register(f"{EVENTS}-value", contract_text("LoyaltyEvent"))

    assert isinstance(registry, ConfluentRegistry)
    assert json.loads(registry.schema_text(schema_id))["name"] == "loyalty.v1.LoyaltyEvent"
    codec = AvroCodec(registry)
    assert codec.decode(codec.encode(EVENTS, "LoyaltyEvent", purchase())) == purchase()


# Producers whose schema is a compatible evolution of today's contract


def test_a_producer_that_added_an_optional_field_is_read_by_todays_contract() -> None:
    """Adding a field with a default is a compatible change in every one of the registry's modes: the engine
    reads the message with its own contract and leaves the unknown field aside."""
    registry = DictRegistry()

    def with_unit_price(fields: list[dict[str, Any]]) -> list[dict[str, Any]]:
        [lines] = [field for field in fields if field["name"] == "lines"]
        lines["type"]["items"]["fields"].append({"name": "unit_price_minor", "type": ["null", "long"], "default": None})
        return fields

    record = purchase()
    record["body"][1]["lines"][0]["unit_price_minor"] = 29_900
    value = framed(registry, producer_schema(with_unit_price), record)

    assert ingested(AvroCodec(registry), value) == ([], 1)


def test_a_producer_without_an_optional_field_gets_the_contracts_default() -> None:
    registry = DictRegistry()
    schema = producer_schema(lambda fields: [field for field in fields if field["name"] != "payment_method"])
    record = purchase()
    del record["body"][1]["payment_method"]
    codec = AvroCodec(registry)
    value = framed(registry, schema, record)

    assert ingested(codec, value) == ([], 1)
    assert event_from_record(codec.decode(value, "LoyaltyEvent")) == event_from_record(purchase())


# Messages that are not what the topic carries


def test_another_contracts_message_on_the_input_topic_names_both_contracts() -> None:
    codec = AvroCodec(EmbeddedRegistry())
    entry = {"entry_id": "order-1:purchase", "member_id": "M1", "event_id": "order-1", "occurred_at": AT,
             "reason": "purchase", "points": 29, "balance_after": 129, "order_id": "O1", "line_id": None,
             "detail": "299.00 SEK x1 = 29 points", "cause": None, "available_at": None, "seq": 0}

    [reason], passed_on = ingested(codec, codec.encode(LEDGER, "LedgerEntry", entry))

    assert passed_on == 0
    assert "loyalty.v1.LedgerEntry" in reason
    assert "loyalty.v1.LoyaltyEvent" in reason


# Values the contract carries but the rules cannot


def test_an_amount_no_order_reaches_is_refused_at_ingest() -> None:
    """A few purchases of 2^63-1 minor units pass the contract's long, but the member's spend then outgrows
    64 bits and the member's state can no longer be stored: the worker fails on every start."""
    codec = AvroCodec(EmbeddedRegistry())
    line = {"line_id": "1", "sku": "SHO-1", "category": "shoes", "quantity": 1, "amount_minor": LONG_MAX}

    [reason], passed_on = ingested(codec, codec.encode(EVENTS, "LoyaltyEvent",
                                                       purchase(total_minor=LONG_MAX, lines=[line])))

    assert passed_on == 0
    assert "total_minor" in reason


def test_a_membership_fee_in_a_currency_that_is_no_iso_code_is_refused_at_ingest() -> None:
    codec = AvroCodec(EmbeddedRegistry())
    event = {**purchase(), "body": ("loyalty.v1.MembershipPaid",
                                    {"membership": "plus", "fee_minor": 49_900, "currency": "sek"})}

    [reason], passed_on = ingested(codec, codec.encode(EVENTS, "LoyaltyEvent", event))

    assert passed_on == 0
    assert "currency 'sek' is not an ISO 4217 code" in reason
