"""Every version of the contracts the engine has shipped stays readable after an upgrade.

A schema registry keeps every version; the embedded one knows the versions
recorded in ``schemas/avro/versions``. A message written by an earlier version of
the engine (on a topic, or in a trial's broker snapshot) must still decode.
"""

from __future__ import annotations

import io
import json
import struct
from datetime import UTC, datetime

import fastavro

from schemas.codec import AvroCodec
from schemas.contracts import contract_names, recorded_versions
from schemas.registry import EmbeddedRegistry, embedded_id
from schemas.versions import unrecorded
from streams.card_directory import CardLink
from streams.topics import CARDS

T0 = datetime(2026, 11, 24, 9, tzinfo=UTC)


def test_every_contracts_current_version_is_recorded() -> None:
    assert unrecorded() == [], "a contract changed: record its new version with `python -m schemas.versions`"


def test_a_recorded_version_is_the_one_its_file_name_says() -> None:
    """Recorded versions are never edited: messages written with them may still be on a topic."""
    versions = recorded_versions()
    names = {json.loads(text)["name"] for text in versions.values()}
    assert {f"loyalty.v1.{name}" for name in contract_names()} <= names
    for file_name, text in versions.items():
        assert file_name == f"{json.loads(text)['name']}.{embedded_id(text)}.json"


def test_a_card_link_written_before_cards_kept_every_earlier_link_reads_as_one_with_one() -> None:
    previous = next(text for text in recorded_versions().values()
                    if json.loads(text)["name"] == "loyalty.v1.CardLink" and '"previous"' in text)
    record = {"card_token": "tok_a", "member_id": "bo", "linked_at": T0, "unlinked_at": None,
              "previous": {"member_id": "anna", "linked_at": T0.replace(hour=7), "unlinked_at": T0.replace(hour=8)}}
    body = io.BytesIO()
    fastavro.schemaless_writer(body, fastavro.parse_schema(json.loads(previous)), record)
    written = struct.pack(">bI", 0, embedded_id(previous)) + body.getvalue()

    codec = AvroCodec(EmbeddedRegistry())
    link = CardLink.from_record(codec.decode(written))

    assert link == CardLink("bo", T0, earlier=(CardLink("anna", T0.replace(hour=7), T0.replace(hour=8)),))
    assert CardLink.from_record(codec.decode(codec.encode(CARDS, "CardLink", link.record("tok_a")))) == link
