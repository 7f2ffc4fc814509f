"""The Avro codec: the Confluent frame, the records as the engine uses them, and a clear error for bad bytes."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any

import fastavro
import pytest

from schemas.codec import AvroCodec, CodecError
from schemas.contracts import contract_text
from schemas.registry import EmbeddedRegistry
from streams.topics import EVENTS, LEDGER

AT = datetime(2026, 11, 24, 9, 30, 15, 250_000, tzinfo=UTC)

PURCHASE: dict[str, Any] = {
    "event_id": "order-1",
    "occurred_at": AT,
    "source": "pos:store-1",
    "member_id": "M1",
    "card_token": None,
    "body": ("loyalty.v1.Purchase", {
        "order_id": "O1", "channel": "pos", "store_id": "store-1", "currency": "SEK", "total_minor": 34_900,
        "lines": [{"line_id": "1", "sku": "SHO-1", "category": "shoes", "quantity": 1, "amount_minor": 29_900},
                  {"line_id": "2", "sku": "DEL-1", "category": "delivery", "quantity": 1, "amount_minor": 5_000}],
        "payment_method": None, "partner_id": None, "points_used": 0,
    }),
}


@pytest.fixture(scope="module")
def codec() -> AvroCodec:
    return AvroCodec(EmbeddedRegistry())


def test_an_event_comes_back_as_it_went_in(codec: AvroCodec) -> None:
    data = codec.encode(EVENTS, "LoyaltyEvent", PURCHASE)

    assert data[0] == 0  # magic byte, then the registry's id
    assert codec.decode(data) == PURCHASE


def test_the_body_is_what_another_avro_implementation_writes_and_reads(codec: AvroCodec) -> None:
    data = codec.encode(EVENTS, "LoyaltyEvent", PURCHASE)
    schema = fastavro.parse_schema(json.loads(contract_text("LoyaltyEvent")))
    written = io.BytesIO()
    fastavro.schemaless_writer(written, schema, PURCHASE)

    assert data[5:] == written.getvalue()
    assert fastavro.schemaless_reader(io.BytesIO(data[5:]), schema, None, return_record_name=True) == PURCHASE


def test_a_naive_time_is_taken_as_utc(codec: AvroCodec) -> None:
    naive = {**PURCHASE, "occurred_at": AT.replace(tzinfo=None)}

    assert codec.decode(codec.encode(EVENTS, "LoyaltyEvent", naive))["occurred_at"] == AT


def test_a_field_of_the_wrong_type_is_named(codec: AvroCodec) -> None:
    with pytest.raises(CodecError, match=r"cannot encode LoyaltyEvent for loyalty.events.v1: .*member_id"):
        codec.encode(EVENTS, "LoyaltyEvent", {**PURCHASE, "member_id": 7})


@pytest.mark.parametrize(("mangle", "reason"), [
    (lambda data: data[:3], "shorter than the 5-byte header"),
    (lambda data: b"\x01" + data[1:], "magic byte 1"),
    (lambda data: data[:5] + data[5:-4], "does not match schema id"),
    (lambda data: data + b"\x00", "bytes left after the Avro body"),
    (lambda data: b"\x00\x7f\xff\xff\xff" + data[5:], "2147483647"),
], ids=["short", "magic", "truncated", "trailing-bytes", "unknown-schema"])
def test_bad_bytes_get_a_reason(codec: AvroCodec, mangle: Any, reason: str) -> None:
    data = codec.encode(EVENTS, "LoyaltyEvent", PURCHASE)

    with pytest.raises(CodecError, match=reason):
        codec.decode(mangle(data))


def test_a_message_of_another_contract_is_read_by_its_own_schema(codec: AvroCodec) -> None:
    entry = {"entry_id": "order-1:purchase", "member_id": "M1", "event_id": "order-1", "occurred_at": AT,
             "reason": "purchase", "points": 29, "balance_after": 129, "order_id": "O1", "line_id": None,
             "detail": "299.00 SEK x1 = 29 points", "cause": None, "available_at": None, "seq": 0}

    assert codec.decode(codec.encode(LEDGER, "LedgerEntry", entry)) == entry
