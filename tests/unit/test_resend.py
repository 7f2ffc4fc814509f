"""Which topic a dead letter's event goes back to, and which cannot go back (with the reason)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from processors.refusals import FINAL
from schemas.codec import AvroCodec
from schemas.registry import EmbeddedRegistry
from streams.resend import Unsendable, destination
from streams.topics import ENGINE_EVENTS, EVENTS, MEMBER_BATCHES

CODEC = AvroCodec(EmbeddedRegistry())


def letter(stage: str, topic: str, body: tuple[str, dict[str, Any]] | None = None, reason: str = "unknown member X",
           value: bytes | None = b"\x00\x00\x00\x00\x01garbage") -> dict[str, Any]:
    if body is not None:
        value = CODEC.encode(EVENTS, "LoyaltyEvent", {
            "event_id": "e1", "occurred_at": datetime(2026, 11, 25, tzinfo=UTC), "source": "app", "member_id": "X",
            "card_token": None, "body": (f"loyalty.v1.{body[0]}", body[1])})
    return {"dead_letter_id": "d1", "stage": stage, "topic": topic, "reason": reason, "value": value}


def test_an_input_goes_back_to_the_topic_it_came_from() -> None:
    assert destination(letter("ingest", EVENTS), CODEC) == EVENTS
    assert destination(letter("ingest", ENGINE_EVENTS), CODEC) == ENGINE_EVENTS
    assert destination(letter("member", MEMBER_BATCHES, ("MemberEnrolled", {
        "channel": "web", "birthday": None, "referred_by": None})), CODEC) == EVENTS
    assert destination(letter("member", MEMBER_BATCHES, ("ReferralQualified", {
        "friend_member_id": "FRED", "order_id": "O1"})), CODEC) == ENGINE_EVENTS  # made by the engine


@pytest.mark.parametrize(("refused", "why"), [
    (letter("sink", "loyalty.ledger.v1"), "an output message the sink could not read, not an input"),
    (letter("ingest", EVENTS, value=None), "its bytes were not kept"),
    (letter("ingest", EVENTS, reason="a card number (PAN) was found in field note of a Purchase event; ..."),
     "it carried a card number, kept only masked"),
    (letter("member", MEMBER_BATCHES, reason="A free drink needs 50 points; member X has 10 points to spend" + FINAL),
     "it was refused for good, and the engine takes it again as a duplicate: send a new event"),
    (letter("member", MEMBER_BATCHES, reason="reused event_id e1: it already named an event that occurred_at ..."),
     "its event_id names another event the member has already: send it from its source with an event_id of its own"),
])
def test_what_cannot_go_back_says_why(refused: dict[str, Any], why: str) -> None:
    with pytest.raises(Unsendable, match=why):
        destination(refused, CODEC)
