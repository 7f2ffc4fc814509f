"""Events refused because what they need had not come yet are applied once it has.

Feeds do not wait for one another. A till can send a new member's first sale
before the sign-up system sends the enrolment: the worker refuses the sale
(unknown member). A bank feed can send a card transaction more than
``card_wait_seconds`` before the app's CardLinked: ingest refuses it (unknown
card). Once ClickHouse shows the member enrolled, or the cards topic the card
linked when the transaction was made, the running engine sends such an event
again, as ``loyalty deadletters --resend`` would. It keeps its event_id, so nothing is applied twice; the
letters go in the order they were refused, so a return comes after its purchase.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from confluent_kafka import KafkaException

from processors.refusals import UNKNOWN_MEMBER
from schemas.codec import AvroCodec, CodecError
from sinks.clickhouse import STORE_ERRORS, ClickHouseStore
from sinks.queries import refused_before_enrolment, refused_unknown_card
from streams.card_directory import CardDirectory, CardLink
from streams.ingest import UNKNOWN_CARD
from streams.kafka import DeliveryFailed
from streams.resend import resend

# What ``look`` raises while ClickHouse or the broker is away; it looks again a few seconds later.
LOOK_ERRORS: tuple[type[Exception], ...] = (*STORE_ERRORS, KafkaException, DeliveryFailed, TimeoutError)

ENROLMENT = "the member's enrolment"
CARD_LINK = "the card's link"


class RefusalCatchUp:
    """Looks for such events whenever the sink has stored new dead letters, and from time to time while some wait.

    While some wait it looks again after a few seconds, and after each look that
    sends nothing twice as long, up to a minute: letters that may never be sent
    (a mistyped member id, a card nobody links) cost a query a minute, not one
    every few seconds. Each letter is sent again once per run: one refused again
    (the member erased meanwhile, say) stays a dead letter for an operator. The
    cards topic is read only once a card transaction waits, and then only what
    was written since.
    """

    EVERY_SECONDS = 5.0
    AT_MOST_SECONDS = 60.0

    def __init__(self, bootstrap: str, codec: AvroCodec, store: ClickHouseStore) -> None:
        self._bootstrap = bootstrap
        self._codec = codec
        self._store = store
        self._cards: CardDirectory | None = None
        self._cards_of: dict[str, tuple[str, datetime] | None] = {}  # by card letter id: its card, decoded once
        self._resent: set[str] = set()
        self._letters_stored = -1  # the sink's count of dead letters stored when last looked: look at the start
        self._wait = self.EVERY_SECONDS  # until the next look, while some wait
        self._next_look = 0.0

    def look(self, letters_stored: int, now: float) -> Counter[str]:
        """If it is time to look, send again the events whose want is met since; how many, by what they waited for.

        ``letters_stored`` is the sink's count of dead letters stored, ``now`` is
        ``time.monotonic()``. Raises ``LOOK_ERRORS``; it looks again a few seconds later.
        """
        new_letters = letters_stored != self._letters_stored
        if not new_letters and now < self._next_look:
            return Counter()
        self._letters_stored = letters_stored
        self._next_look = now + self.EVERY_SECONDS
        members = refused_before_enrolment(self._store, UNKNOWN_MEMBER)
        cards = refused_unknown_card(self._store, UNKNOWN_CARD)
        self._forget_all_but(members + cards)  # the rest were applied
        ready = [(letter, ENROLMENT) for letter in members if letter["enrolled"]]
        ready += [(letter, CARD_LINK) for letter in self._linked(cards)]
        waiting = len(ready) < len(members) + len(cards)
        ready = sorted((pair for pair in ready if pair[0]["dead_letter_id"] not in self._resent),
                       key=lambda pair: (pair[0]["recorded_at"], pair[0]["partition"], pair[0]["offset"]))
        sent = self._send(ready)
        self._wait = self.EVERY_SECONDS if sent or new_letters else min(2 * self._wait, self.AT_MOST_SECONDS)
        self._next_look = now + self._wait if waiting else float("inf")  # none waits: look when new letters come
        return sent

    def _send(self, ready: list[tuple[dict[str, Any], str]]) -> Counter[str]:
        """Send the ``(letter, what it waited for)`` pairs again, in order; how many went, by what they waited for."""
        sent: Counter[str] = Counter()
        if not ready:
            return sent
        resent = resend(self._bootstrap, self._codec, [letter for letter, _ in ready])
        not_sent = {letter_id for letter_id, _ in resent.not_sent}
        for letter, waited_for in ready:
            self._resent.add(letter["dead_letter_id"])
            if letter["dead_letter_id"] not in not_sent:
                sent[waited_for] += 1
        return sent

    def _forget_all_but(self, letters: list[dict[str, Any]]) -> None:
        listed = {letter["dead_letter_id"] for letter in letters}
        self._resent &= listed
        self._cards_of = {letter_id: card for letter_id, card in self._cards_of.items() if letter_id in listed}

    def _linked(self, letters: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Those of ``letters`` (card transactions) whose card, as the cards topic says now, was linked to a
        member when they were made."""
        if not letters:
            return []
        if self._cards is None:
            self._cards = CardDirectory(self._bootstrap, self._codec)
        links = self._cards.read_on(timeout=self.EVERY_SECONDS)  # what it read counts: a long topic takes more looks
        return [letter for letter in letters if self._linked_then(letter, links)]

    def _linked_then(self, letter: dict[str, Any], links: dict[str, CardLink]) -> bool:
        """Whether the letter's card was linked to a member when its transaction was made."""
        card = self._card(letter)
        if card is None:
            return False
        link = links.get(card[0])
        return link is not None and isinstance(link.member_at(card[1]), str)

    def _card(self, letter: dict[str, Any]) -> tuple[str, datetime] | None:
        """The letter's card token and when its transaction was made, decoded once; None if its bytes do not
        say, for an operator to look into."""
        letter_id = letter["dead_letter_id"]
        if letter_id not in self._cards_of:
            try:
                record = self._codec.decode(letter["value"])
                token, made = record["card_token"], record["occurred_at"]
            except (CodecError, KeyError, TypeError):
                token = made = None
            self._cards_of[letter_id] = (token, made) if token else None
        return self._cards_of[letter_id]
