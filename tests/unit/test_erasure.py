"""A member who asks to be forgotten: the account closes, personal data goes, no later event is taken."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from builders import Member, card_linked, club, enrolled, kr, line, new_id

from processors.events import ClockTick, MemberEnrolled, MemberErased
from processors.outputs import Activity, Erasure, LedgerEntry, LedgerReason
from processors.program import CatalogueReward
from schemas.codec import AvroCodec
from schemas.registry import EmbeddedRegistry
from streams.card_directory import CardLink
from streams.ingest import Ingest
from streams.offline import ConsumedMessage
from streams.state_codec import decode_state, encode_state


def erased(member: Member, reason: str = "erasure request 118") -> MemberErased:
    return MemberErased(new_id("erase"), member.member_id, member.later(), "crm", reason)


def test_erasure_closes_the_account_forfeiting_the_balance_in_the_ledger(anna: Member) -> None:
    anna.buy(line(kr(250)), order_id="O1")
    assert anna.balance == 125

    closed = anna.apply(erased(anna))

    [entry] = [o for o in closed.outputs if isinstance(o, LedgerEntry)]
    assert (entry.reason, entry.points, entry.balance_after) == (LedgerReason.ERASED, -125, 0)
    assert entry.detail == "Account closed (erasure request 118): 125 points forfeited"
    assert sum(e.points for e in anna.ledger) == anna.balance == 0
    assert [a.event_type for a in closed.outputs if isinstance(a, Activity)] == ["erased"]
    assert [(n.erasure_id, n.member_id) for n in closed.outputs if isinstance(n, Erasure)] == [
        (f"{closed.outputs[0].event_id}:erased", "anna")]  # the notice to the systems downstream


def test_points_owed_after_a_return_are_written_off() -> None:
    bag = CatalogueReward(id="bag", name="A tote bag", kind="free_product", points=120)
    member = Member(club(welcome_bonus_points=0, rewards=(bag,)))
    member.enrol()
    member.buy(line(kr(1_500), line_id="1"), order_id="O1")
    member.redeem("bag", "R1")
    member.give_back("O1", **{"1": 1})  # the 150 points went back; 120 of them were spent
    owed = member.balance
    assert owed < 0

    closed = member.apply(erased(member))

    [entry] = [o for o in closed.outputs if isinstance(o, LedgerEntry)]
    assert (entry.points, entry.balance_after) == (-owed, 0)
    assert entry.detail.endswith(f"{-owed} points owed written off")


def test_erasure_keeps_nothing_personal_in_the_state() -> None:
    member = Member(club())
    member.apply(MemberEnrolled(new_id("join"), "anna", member.later(), "app", "web", "03-14", "bo"))
    member.buy(line(kr(100), "coffee_beans"), order_id="O1")
    member.share("post-1")
    erasure = erased(member)

    member.apply(erasure)

    state = member.state
    assert state is not None and state.erased_at == member.now
    assert (state.birthday, state.referred_by, state.orders, state.segments, state.social_posts, state.visits,
            state.spend_by_month, state.balance) == (None, None, {}, [], {}, [], {}, 0)
    assert {occurred for event_id, (_, occurred) in state.seen_events.items()  # the ids kept, not their times
            if event_id != erasure.event_id} == {0}
    assert decode_state(encode_state(state)) == state  # and stays so when stored


def test_after_erasure_every_event_is_refused_with_the_date_but_the_daily_tick_passes(anna: Member) -> None:
    anna.apply(erased(anna))
    state = anna.state

    bought = anna.buy(line(kr(100)))
    rejoined = anna.apply(enrolled("anna", anna.later()))
    tick = anna.apply(ClockTick(new_id("tick"), "anna", anna.later(), "scheduler"))

    reason = f"member anna was erased on {state.erased_at.date()}: its events are no longer taken"
    assert bought.refusal is not None and bought.refusal.reason == reason
    assert rejoined.refusal is not None and rejoined.refusal.reason == reason
    assert tick.refusal is None and tick.outputs == ()
    assert anna.balance == 0


def test_a_redelivered_erasure_is_a_duplicate(anna: Member) -> None:
    erasure = erased(anna)
    anna.apply(erasure)

    again = anna.apply(erasure)

    assert again.duplicate and again.outputs == ()


def test_ingest_forgets_an_erased_members_card_and_deletes_its_link() -> None:
    codec = AvroCodec(EmbeddedRegistry())
    at = datetime(2026, 11, 25, tzinfo=UTC)

    def message(offset: int, member_id: str | None, body: tuple[str, dict[str, object]],
                token: str | None = None, when: datetime = at) -> ConsumedMessage:
        record = {"event_id": f"e{offset}", "occurred_at": when, "source": "bank", "member_id": member_id,
                  "card_token": token, "body": (f"loyalty.v1.{body[0]}", body[1])}
        return ConsumedMessage(b"bank", codec.encode("loyalty.events.v1", "LoyaltyEvent", record), offset)

    link = card_linked("anna", at, token="tok_anna")
    bo, old = CardLink("bo", at), CardLink("anna", at, unlinked_at=at)  # Anna's old card, unlinked
    hours = [at + timedelta(hours=n) for n in (-5, 1, 2)]  # a card Anna had until 01:00 and Bo has since 02:00
    shared = CardLink("bo", hours[2], earlier=(CardLink("anna", hours[0], hours[1]),))
    bos_before = CardLink("bo", at - timedelta(hours=6), at - timedelta(hours=4))  # then Anna's, from 02:00 before
    from_bo = CardLink("anna", at - timedelta(hours=2), earlier=(bos_before,))
    ingest = Ingest(codec, partitions=1, cards={"tok_bo": bo, "tok_anna_old": old, "tok_shared": shared,
                                                "tok_from_bo": from_bo})
    ingest.process([message(0, "anna", ("CardLinked", {"card_token": link.card_token}))])

    result = ingest.process([message(1, "anna", ("MemberErased", {"reason": "request"}))])
    assert result.cards_forgotten == ["tok_anna_old", "tok_anna"]
    passed_on = CardLink("bo", hours[2], earlier=(CardLink("", hours[0], hours[1]),))  # no trace of Anna
    ended = CardLink("", at - timedelta(hours=2), at, earlier=(bos_before,))  # Bo's before: his late ones still earn
    assert ingest.cards == {"tok_bo": bo, "tok_shared": passed_on, "tok_from_bo": ended}
    assert result.card_links == [passed_on.record("tok_shared"), ended.record("tok_from_bo")]
    assert "anna" not in repr(result.card_links)

    purchase = {"order_id": "N1", "channel": "card", "store_id": None, "currency": "SEK", "total_minor": 100,
                "payment_method": "card", "partner_id": None, "points_used": 0,
                "lines": [{"line_id": "1", "sku": "S", "category": "c", "quantity": 1, "amount_minor": 100}]}
    after = ingest.process([message(2, None, ("Purchase", purchase), token="tok_anna")])
    assert [letter["reason"] for letter in after.dead_letters] == [
        "unknown card_token in Purchase e2: the card is not linked to a member (yet); once its CardLinked comes, a "
        "running engine sends this event again by itself"]
    bought_while_hers = ingest.process([message(3, None, ("Purchase", {**purchase, "order_id": "N2"}),
                                                token="tok_shared")])
    assert [letter["reason"] for letter in bought_while_hers.dead_letters] == [
        "card unlinked before Purchase e3: the member it was linked to then has since been erased; the transaction "
        "was made at 2026-11-25 00:00 UTC, so it earns nothing (if it should, send it again with its member's id in "
        "member_id)"]
    on_the_card_bo_had = [message(4 + n, None, ("Purchase", {**purchase, "order_id": f"B{n}"}), token="tok_from_bo",
                                  when=at - timedelta(hours=hours)) for n, hours in enumerate((5, 1))]
    after_anna = message(6, None, ("Purchase", {**purchase, "order_id": "A1"}), token="tok_from_bo",
                         when=at + timedelta(minutes=30))
    cleo_links_it = message(7, "cleo", ("CardLinked", {"card_token": "tok_from_bo"}), when=at + timedelta(hours=1))
    late = ingest.process([*on_the_card_bo_had, after_anna, cleo_links_it])
    assert [record["member_id"] for records in late.batches.values() for record in records] == ["bo", "cleo"]
    assert [letter["reason"] for letter in late.dead_letters] == [
        "card unlinked before Purchase e5: the member it was linked to then has since been erased; the transaction "
        "was made at 2026-11-24 23:00 UTC, so it earns nothing (if it should, send it again with its member's id in "
        "member_id)",
        "card unlinked before Purchase e6: the link of its member, since erased, ended at 2026-11-25 00:00 UTC; the "
        "transaction was made at 2026-11-25 00:30 UTC, so it earns nothing (if it should, send it again with its "
        "member's id in member_id)"]
    assert ingest.cards["tok_from_bo"] == CardLink("cleo", at + timedelta(hours=1),
                                                   earlier=(CardLink("", at - timedelta(hours=2), at), bos_before))
