"""Ingest takes the events the engine makes itself only from the engine's own topic."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from schemas.codec import AvroCodec
from schemas.registry import EmbeddedRegistry
from streams.ingest import Ingest
from streams.offline import ConsumedMessage
from streams.records import ENGINE_MADE
from streams.topics import ENGINE_EVENTS, EVENTS

BODIES: dict[str, dict[str, Any]] = {
    "ClockTick": {},
    "ReferralQualified": {"friend_member_id": "FRED", "order_id": "O1"},
    "CampaignClaim": {"campaign": "double", "claimant": "ANNA", "order_id": "O1", "points": 100},
    "CampaignAward": {"campaign": "double", "order_id": "O1", "points": 100, "claimed": 100},
}


def member(kind: str) -> str:
    return "campaign:double" if kind == "CampaignClaim" else "ANNA"  # a claim goes to the campaign's budget key


def sent(codec: AvroCodec, kind: str, topic: str) -> ConsumedMessage:
    record = {"event_id": f"{kind}-1", "occurred_at": datetime(2026, 11, 25, tzinfo=UTC), "source": "somebody",
              "member_id": member(kind), "card_token": None, "body": (f"loyalty.v1.{kind}", BODIES[kind])}
    return ConsumedMessage(b"somebody", codec.encode(topic, "LoyaltyEvent", record), 7, topic)


def test_every_engine_made_type_is_covered() -> None:
    assert set(BODIES) == ENGINE_MADE


@pytest.mark.parametrize("kind", sorted(BODIES))
def test_an_engine_made_event_from_the_input_topic_is_a_dead_letter_with_the_reason(kind: str) -> None:
    codec = AvroCodec(EmbeddedRegistry())
    result = Ingest(codec, partitions=4).process([sent(codec, kind, EVENTS)])
    assert not result.batches
    [letter] = result.dead_letters
    assert (letter["event_id"], letter["member_id"], letter["topic"], letter["offset"]) == (
        f"{kind}-1", member(kind), EVENTS, 7)
    assert letter["reason"] == (f"{kind} events are made by the engine itself and are accepted only from "
                                f"{ENGINE_EVENTS}, which only the engine writes: send purchases, returns and the "
                                "other input events")


@pytest.mark.parametrize("kind", sorted(BODIES))
def test_the_same_event_from_the_engines_own_topic_goes_on(kind: str) -> None:
    codec = AvroCodec(EmbeddedRegistry())
    result = Ingest(codec, partitions=4).process([sent(codec, kind, ENGINE_EVENTS)])
    assert not result.dead_letters
    assert [record["member_id"] for records in result.batches.values() for record in records] == [member(kind)]
