"""Ingest takes the events the engine makes itself only from the engine's own topic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schemas.codec import AvroCodec
from schemas.registry import EmbeddedRegistry
from streams import ingest as ingest_module
from streams.card_directory import CardLink
from streams.ingest import Ingest
from streams.ingest_loop import member_batch_values
from streams.offline import ConsumedMessage
from streams.records import ENGINE_MADE, event_from_record
from streams.topics import ENGINE_EVENTS, EVENTS

BODIES: dict[str, dict[str, Any]] = {
    "ClockTick": {},
    "ReferralQualified": {"friend_member_id": "FRED", "order_id": "O1"},
    "ReferralRevoked": {"friend_member_id": "FRED", "order_id": "O1"},
    "ReferralMoved": {"friend_member_id": "FRED", "order_id": "O2",
                      "purchased_at": datetime(2026, 11, 24, tzinfo=UTC)},
    "CampaignClaim": {"campaign": "double", "claimant": "ANNA", "order_id": "O1", "points": 100},
    "CampaignAward": {"campaign": "double", "order_id": "O1", "points": 100, "claimed": 100},
    "CampaignRelease": {"campaign": "double", "claimant": "ANNA", "order_id": "O1", "points": 100},
}


def member(kind: str) -> str:
    # Claims and releases go to the campaign's budget key.
    return "campaign:double" if kind in ("CampaignClaim", "CampaignRelease") else "ANNA"


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


@pytest.mark.parametrize("kind", sorted(BODIES))
def test_an_engine_made_event_reads_back_field_by_field(kind: str) -> None:
    codec = AvroCodec(EmbeddedRegistry())
    event = event_from_record(codec.decode(sent(codec, kind, ENGINE_EVENTS).value()))
    assert type(event).__name__ == kind
    assert (event.event_id, event.member_id) == (f"{kind}-1", member(kind))
    assert {name: getattr(event, name) for name in BODIES[kind]} == BODIES[kind]


T0 = datetime(2026, 11, 25, tzinfo=UTC)


class TestCardTransactions:
    """A card transaction goes to the member its card was linked to when it was made.

    The bank feed and the app that links cards write to different partitions, read in no set order.
    """

    codec = AvroCodec(EmbeddedRegistry())

    def message(self, offset: int, body: tuple[str, dict[str, Any]], member_id: str | None = None,
                token: str | None = None, partition: int = 0, hours: int = 0) -> ConsumedMessage:
        record = {"event_id": f"{body[0]}-{offset}", "occurred_at": T0 + timedelta(hours=hours),
                  "source": "bank", "member_id": member_id, "card_token": token,
                  "body": (f"loyalty.v1.{body[0]}", body[1])}
        value = self.codec.encode(EVENTS, "LoyaltyEvent", record)
        return ConsumedMessage(b"source", value, offset, EVENTS, partition)

    def purchase(self, offset: int, partition: int = 0, hours: int = 0) -> ConsumedMessage:
        body = {"order_id": f"N{offset}", "channel": "card", "store_id": None, "currency": "SEK", "total_minor": 100,
                "payment_method": "card", "partner_id": None, "points_used": 0,
                "lines": [{"line_id": "1", "sku": "S", "category": "c", "quantity": 1, "amount_minor": 100}]}
        return self.message(offset, ("Purchase", body), token="tok_anna", partition=partition, hours=hours)

    def link(self, offset: int, hours: int = 0, kind: str = "CardLinked", member_id: str = "ANNA") -> ConsumedMessage:
        return self.message(offset, (kind, {"card_token": "tok_anna"}), member_id=member_id, partition=1, hours=hours)

    @staticmethod
    def passed_on(result: Any) -> list[str]:
        return [record["member_id"] for records in result.batches.values() for record in records]

    def test_a_link_read_later_in_the_same_pass_lets_it_go_on(self) -> None:
        result = Ingest(self.codec, partitions=1).process([self.purchase(5), self.link(0)])
        assert not result.dead_letters and self.passed_on(result) == ["ANNA", "ANNA"]

    def test_it_waits_for_a_link_read_in_a_later_pass_and_the_commit_stops_short_of_it(self) -> None:
        ingest = Ingest(self.codec, partitions=1, card_wait_seconds=10)
        first = ingest.process([self.purchase(5), self.purchase(6, partition=2)], now=100)
        assert not first.dead_letters and not first.batches
        assert ingest.offsets_to_commit() == {(EVENTS, 0): 5, (EVENTS, 2): 6}

        second = ingest.process([self.purchase(6)], now=105)  # also waits: it comes after the one waiting already
        assert not second.dead_letters and not second.batches
        assert ingest.offsets_to_commit() == {(EVENTS, 0): 5, (EVENTS, 2): 6}

        third = ingest.process([self.link(0)], now=109)
        assert not third.dead_letters and self.passed_on(third) == ["ANNA"] * 4
        assert not ingest.waiting
        assert ingest.offsets_to_commit() == {(EVENTS, 0): 7, (EVENTS, 1): 1, (EVENTS, 2): 7}

    def test_after_the_wait_it_is_a_dead_letter_that_says_what_to_do(self) -> None:
        ingest = Ingest(self.codec, partitions=1, card_wait_seconds=10)
        ingest.process([self.purchase(5)], now=100)
        assert not ingest.process([], now=109.9).dead_letters
        result = ingest.process([], now=110)
        assert [(letter["offset"], letter["reason"]) for letter in result.dead_letters] == [
            (5, "unknown card_token in Purchase Purchase-5: the card is not linked to a member (yet); once its "
                "CardLinked comes, a running engine sends this event again by itself")]
        assert not ingest.waiting and ingest.offsets_to_commit() == {(EVENTS, 0): 6}

    def test_once_unlinked_only_what_was_bought_before_goes_to_the_member_however_late(self) -> None:
        ingest = Ingest(self.codec, partitions=1)
        ingest.process([self.link(0)])

        result = ingest.process([self.link(1, hours=2, kind="CardUnlinked"), self.purchase(5, hours=1),
                                 self.purchase(6, hours=3)])

        assert self.passed_on(result) == ["ANNA", "ANNA"]  # the unlinking itself, then the earlier purchase
        assert [(letter["offset"], letter["reason"]) for letter in result.dead_letters] == [
            (6, "card unlinked before Purchase Purchase-6: its member unlinked the card at 2026-11-25 02:00 UTC; the "
                "transaction was made at 2026-11-25 03:00 UTC, so it earns nothing (if it should, send it again "
                "with its member's id in member_id)")]
        assert result.card_links == [{"card_token": "tok_anna", "member_id": "ANNA", "linked_at": T0,
                                      "unlinked_at": T0 + timedelta(hours=2), "earlier": []}]

        again = ingest.process([self.link(2, hours=4), self.purchase(7, hours=5)])  # linked again: it earns again
        assert not again.dead_letters and self.passed_on(again) == ["ANNA", "ANNA"]

    def test_a_member_the_card_is_not_linked_to_cannot_unlink_it(self) -> None:
        ingest = Ingest(self.codec, partitions=1)
        ingest.process([self.link(0)])

        result = ingest.process([self.link(1, hours=1, kind="CardUnlinked", member_id="BO"), self.purchase(5, hours=2)])

        assert [letter["reason"] for letter in result.dead_letters] == [
            "CardUnlinked CardUnlinked-1: the card is not linked to member BO, so there is nothing to unlink"]
        assert self.passed_on(result) == ["ANNA"] and not result.card_links

    def test_a_card_is_linked_to_one_member_at_a_time(self) -> None:
        ingest = Ingest(self.codec, partitions=1)
        ingest.process([self.link(0)])

        again = ingest.process([self.link(4, hours=1)])  # Anna links it again: nothing changes
        assert self.passed_on(again) == ["ANNA"] and not again.card_links and ingest.cards["tok_anna"].linked_at == T0

        taken = ingest.process([self.link(1, hours=1, member_id="BO"), self.purchase(5, hours=2)])
        assert [letter["reason"] for letter in taken.dead_letters] == [
            "CardLinked CardLinked-1: the card is linked to another member, who must unlink it first (CardUnlinked)"]
        assert self.passed_on(taken) == ["ANNA"]

        freed = ingest.process([self.link(2, hours=3, kind="CardUnlinked"), self.link(3, hours=5, member_id="BO"),
                                self.purchase(6, hours=6)])
        assert not freed.dead_letters and self.passed_on(freed) == ["ANNA", "BO", "BO"]

    def test_a_transaction_made_a_day_or_more_before_the_cards_first_link_earns_for_nobody(self) -> None:
        ingest = Ingest(self.codec, partitions=1)
        ingest.process([self.link(0)])

        late = ingest.process([self.purchase(5, hours=-23), self.purchase(6, hours=-25)])

        assert self.passed_on(late) == ["ANNA"]  # paid just before the link: it counts
        assert [(letter["offset"], letter["reason"]) for letter in late.dead_letters] == [
            (6, "card unlinked before Purchase Purchase-6: it was made before the card was first linked, at "
                "2026-11-25 00:00 UTC; the transaction was made at 2026-11-23 23:00 UTC, so it earns nothing (if it "
                "should, send it again with its member's id in member_id)")]

    def test_a_card_passed_on_earns_for_whoever_held_it_when_each_transaction_was_made(self) -> None:
        ingest = Ingest(self.codec, partitions=1)
        held = [("ANNA", 0, 3), ("BO", 5, 7), ("CLEO", 9, 11)]  # then Anna has it back, from 12:00
        ingest.process([link for n, (member, linked, unlinked) in enumerate(held)
                        for link in (self.link(2 * n, hours=linked, member_id=member),
                                     self.link(2 * n + 1, hours=unlinked, kind="CardUnlinked", member_id=member))]
                       + [self.link(6, hours=12)])

        late = ingest.process([self.purchase(n, hours=hours) for n, hours in enumerate((-1, 2, 4, 6, 8, 10, 11, 13),
                                                                                        start=10)])

        # Before its first link and while it was Anna's, Bo's, Cleo's and Anna's again
        assert self.passed_on(late) == ["ANNA", "ANNA", "BO", "CLEO", "ANNA"]
        why = ("card unlinked before Purchase Purchase-{}: its member unlinked the card at 2026-11-25 {:02d}:00 UTC "
               "and the next linked it at 2026-11-25 {:02d}:00 UTC; the transaction was made at 2026-11-25 {:02d}:00 "
               "UTC, so it earns nothing (if it should, send it again with its member's id in member_id)")
        assert [(letter["offset"], letter["reason"]) for letter in late.dead_letters] == [
            (12, why.format(12, 3, 5, 4)), (14, why.format(14, 7, 9, 8)), (16, why.format(16, 11, 12, 11))]
        assert ingest.cards["tok_anna"].earlier == (CardLink("CLEO", T0 + timedelta(hours=9), T0 + timedelta(hours=11)),
                                                    CardLink("BO", T0 + timedelta(hours=5), T0 + timedelta(hours=7)),
                                                    CardLink("ANNA", T0, T0 + timedelta(hours=3)))


def test_a_card_link_written_by_an_earlier_version_keeps_its_one_link_before() -> None:
    record = {"card_token": "tok", "member_id": "BO", "linked_at": T0 + timedelta(hours=2), "unlinked_at": None,
              "previous": ("loyalty.v1.EndedCardLink", {"member_id": "ANNA", "linked_at": T0,
                                                        "unlinked_at": T0 + timedelta(hours=1)})}
    assert CardLink.from_record(record) == CardLink("BO", T0 + timedelta(hours=2),
                                                    earlier=(CardLink("ANNA", T0, T0 + timedelta(hours=1)),))
    assert CardLink.from_record({"card_token": "tok", "member_id": "ANNA", "linked_at": T0}) == CardLink("ANNA", T0)


def test_an_input_event_dated_past_the_margin_after_it_arrived_is_a_dead_letter_that_says_why() -> None:
    codec = AvroCodec(EmbeddedRegistry())
    ingest = Ingest(codec, partitions=1, max_future=timedelta(days=1))
    arrived = datetime(2026, 11, 25, 9, tzinfo=UTC)  # by the engine's clock, whatever the messages' timestamps say

    def enrolment(offset: int, occurred_at: datetime, topic: str = EVENTS) -> ConsumedMessage:
        record = {"event_id": f"e{offset}", "occurred_at": occurred_at, "source": "app", "member_id": "ANNA",
                  "card_token": None,
                  "body": ("loyalty.v1.MemberEnrolled", {"channel": "app", "birthday": None, "referred_by": None})}
        return ConsumedMessage(b"app", codec.encode(topic, "LoyaltyEvent", record), offset, topic)

    result = ingest.process([
        enrolment(0, datetime(2026, 11, 26, 8, tzinfo=UTC)),  # 23 hours ahead: a clock that is off
        enrolment(1, datetime(2062, 11, 25, 9, tzinfo=UTC)),  # the year mistyped
        enrolment(2, datetime(2026, 11, 26, 10, tzinfo=UTC)),  # 25 hours ahead
        sent(codec, "ClockTick", ENGINE_EVENTS),  # the engine's own events are the engine's to date
    ], received_at=arrived)

    assert [record["event"] for records in result.batches.values() for record in records] == [
        enrolment(0, datetime(2026, 11, 26, 8, tzinfo=UTC)).value(),
        sent(codec, "ClockTick", ENGINE_EVENTS).value()]
    assert [(letter["event_id"], letter["reason"]) for letter in result.dead_letters] == [
        ("e1", "occurred_at 2062-11-25 09:00 UTC is 13149 days after the event reached the engine (2026-11-25 09:00 "
               "UTC), beyond the 1-day margin for clocks: check the source's clock and the event's year"),
        ("e2", "occurred_at 2026-11-26 10:00 UTC is 25 hours after the event reached the engine (2026-11-25 09:00 "
               "UTC), beyond the 1-day margin for clocks: check the source's clock and the event's year")]


def test_an_event_reached_the_engine_when_ingest_took_it_whatever_its_producers_clock_said() -> None:
    """How long a member remembers an applied event's id counts from this time: a till whose clock says 1970
    would otherwise have the id forgotten at once, and a redelivery of it count twice."""
    codec = AvroCodec(EmbeddedRegistry())
    before = datetime.now(UTC)
    result = Ingest(codec, partitions=1).process([sent(codec, "ClockTick", ENGINE_EVENTS)])
    [[passed_on]] = result.batches.values()
    assert before <= passed_on["received_at"] <= datetime.now(UTC)


def test_an_input_event_dated_year_one_is_a_dead_letter_not_a_crash_of_the_worker() -> None:
    codec = AvroCodec(EmbeddedRegistry())
    record = {"event_id": "y1", "occurred_at": datetime(1, 1, 1, tzinfo=UTC), "source": "web", "member_id": "DORA",
              "card_token": None, "body": ("loyalty.v1.Purchase", {
                  "order_id": "Y1", "channel": "web", "store_id": None, "currency": "SEK", "total_minor": 1000,
                  "lines": [{"line_id": "1", "sku": "A", "category": "tops", "quantity": 1, "amount_minor": 1000}],
                  "payment_method": None, "partner_id": None, "points_used": 0})}

    result = Ingest(codec, partitions=1, max_future=timedelta(days=1)).process(
        [ConsumedMessage(b"web", codec.encode(EVENTS, "LoyaltyEvent", record), 0, EVENTS)])

    assert not result.batches
    assert [letter["reason"] for letter in result.dead_letters] == [
        "invalid Purchase: occurred_at 0001-01-01 00:00 UTC is before 1970-01-01: times from 1970 to 2099 are "
        "accepted; check the year"]


def test_an_event_ingest_fails_on_is_a_dead_letter_saying_so_and_the_events_around_it_go_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    codec = AvroCodec(EmbeddedRegistry())

    def enrolment(member_id: str, offset: int) -> ConsumedMessage:
        record = {"event_id": f"enrol-{member_id}", "occurred_at": datetime(2026, 11, 25, tzinfo=UTC),
                  "source": "app", "member_id": member_id, "card_token": None,
                  "body": ("loyalty.v1.MemberEnrolled", {"channel": "app", "birthday": None, "referred_by": None})}
        return ConsumedMessage(b"app", codec.encode(EVENTS, "LoyaltyEvent", record), offset, EVENTS)

    def failing_check(event: Any) -> list[str]:
        if event.member_id == "BERT":
            raise KeyError("a validation bug")
        return []

    monkeypatch.setattr(ingest_module, "problems", failing_check)
    result = Ingest(codec, partitions=1).process([enrolment("ANNA", 0), enrolment("BERT", 1), enrolment("CARL", 2)])

    assert [record["member_id"] for records in result.batches.values() for record in records] == ["ANNA", "CARL"]
    [letter] = result.dead_letters
    assert (letter["event_id"], letter["stage"], letter["offset"], letter["value"]) == (
        "enrol-BERT", "ingest", 1, enrolment("BERT", 1).value())
    assert letter["reason"].startswith("the engine failed on this event (KeyError: 'a validation bug'); it was set "
                                       "aside and the events after it went on")


def test_a_pass_of_large_events_for_one_partition_is_split_into_batches_the_broker_takes_in_order() -> None:
    codec = AvroCodec(EmbeddedRegistry())
    at = datetime(2026, 3, 1, tzinfo=UTC)
    records = [{"received_at": at, "member_id": f"m{n}", "event": bytes([n]) * 300_000} for n in range(7)]

    values = list(member_batch_values(codec, records, most=1_000_000))

    assert len(values) > 2 and all(len(value) <= 1_000_000 for value in values)
    assert [record for value in values for record in codec.decode(value)["events"]] == records
    (alone,) = member_batch_values(codec, records[:1], most=1_000)  # bigger than the limit alone: sent as it is
    assert codec.decode(alone)["events"] == records[:1]


def test_a_card_link_ingest_fails_on_half_way_does_not_link_the_card() -> None:
    """Ingest fails on ANNA's CardLinked while recording it (here: writing the cards topic's
    record raises). The event is set aside as a dead letter, "to be sent again once the engine is fixed", and
    the cards topic never hears of the link: ingest must not keep it in memory either, or the bank's transactions
    on that card would go to ANNA until ingest restarts, and be refused as an unknown card after."""
    codec = AvroCodec(EmbeddedRegistry())

    def message(offset: int, record: dict[str, Any]) -> ConsumedMessage:
        return ConsumedMessage(b"src", codec.encode(EVENTS, "LoyaltyEvent", record), offset, EVENTS)

    def event_record(event_id: str, member_id: str, body: tuple[str, dict[str, Any]], hours: int = 0,
                     ) -> dict[str, Any]:
        return {"event_id": event_id, "occurred_at": datetime(2026, 3, 2, 9 + hours, tzinfo=UTC), "source": "app",
                "member_id": member_id, "card_token": None, "body": (f"loyalty.v1.{body[0]}", body[1])}

    link = event_record("link-1", "ANNA", ("CardLinked", {"card_token": "tok_anna"}))
    sale = {**event_record("sale-1", "", ("Purchase", {
        "order_id": "N1", "channel": "card", "store_id": None, "currency": "SEK", "total_minor": 100,
        "payment_method": "card", "partner_id": None, "points_used": 0,
        "lines": [{"line_id": "1", "sku": "S", "category": "c", "quantity": 1, "amount_minor": 100}]}), 2),
        "member_id": None, "card_token": "tok_anna"}
    ingest = Ingest(codec, partitions=1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(CardLink, "record", lambda self, token: 1 / 0)  # a bug, once the link is in the directory
        linked = ingest.process([message(0, link)])
    assert [letter["event_id"] for letter in linked.dead_letters] == ["link-1"]
    assert linked.card_links == []  # the cards topic is not told

    sold = ingest.process([message(1, sale)])

    assert "tok_anna" not in ingest.cards
    assert [record["member_id"] for records in sold.batches.values() for record in records] == []
