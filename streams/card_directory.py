"""Which member each card token is linked to, as the compacted cards topic says.

Ingest writes a card's link there when it reads a CardLinked, the link with the
time it ended when it reads a CardUnlinked, and a tombstone when the member is
erased (or, for a card another member held before, the links with the erased
member's id wiped). It reads the whole topic when it starts. The topic is the only place
that maps tokens to members: no output carries a token.

A bank sends card transactions late, often by days, so a transaction goes to
the member whose link was in force when it was made. A link keeps every link
before it (each ended by its member before another could link the card): a
household's card that moves from one member to the other, and back, still earns
each member what they bought while it was theirs.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, NamedTuple

from schemas.codec import AvroCodec
from streams.kafka import read_to_end, topic_partitions
from streams.topics import CARDS

ERASED = ""  # the member id an ended link keeps once its member is erased
# How long before a card's first link a transaction still earns for its member: a sale paid by card just before
# the member linked it, or one a bank dates without a time. Earlier ones may have been anybody's.
FIRST_LINK_GRACE = timedelta(days=1)


class Unlinked(NamedTuple):
    """Why a card transaction earns for nobody, in words for its dead letter."""

    why: str


class CardLink(NamedTuple):
    """A card's member, since when, until when if the member unlinked it, and the links before it.

    A card changes hands rarely (a household's card, a card given up), so every
    earlier link is kept, however many.
    """

    member_id: str
    linked_at: datetime
    unlinked_at: datetime | None = None
    earlier: tuple[CardLink, ...] = ()  # newest first; each ended (its unlinked_at is set), with no earlier of its own

    def member_at(self, when: datetime) -> str | Unlinked:
        """The member a transaction made at ``when`` earns for, or why it earns for nobody.

        One made less than ``FIRST_LINK_GRACE`` before the card's first link goes to its first
        member: a sale paid by card just before its link (or on a bank's date without a time)
        still counts. One made earlier earns for nobody: whose card it was then is not known.
        """
        later: CardLink | None = None  # the link after the one looked at
        for link in (self, *self.earlier):
            if link.unlinked_at is not None and when >= link.unlinked_at:
                return Unlinked(link._ended() if later is None else
                                f"{link._ended()} and the next linked it at {later.linked_at:%Y-%m-%d %H:%M} UTC")
            if when >= link.linked_at:
                break
            later = link
        if when < link.linked_at - FIRST_LINK_GRACE:
            return Unlinked(f"it was made before the card was first linked, at {link.linked_at:%Y-%m-%d %H:%M} UTC")
        if link.member_id == ERASED:
            return Unlinked("the member it was linked to then has since been erased")
        return link.member_id

    def _ended(self) -> str:
        assert self.unlinked_at is not None
        at = f"{self.unlinked_at:%Y-%m-%d %H:%M} UTC"
        if self.member_id == ERASED:
            return f"the link of its member, since erased, ended at {at}"
        return f"its member unlinked the card at {at}"

    def record(self, card_token: str) -> dict[str, Any]:
        """The cards topic's record of this link."""
        return {"card_token": card_token, **self._ends(), "earlier": [link._ends() for link in self.earlier]}

    def _ends(self) -> dict[str, Any]:
        return {"member_id": self.member_id, "linked_at": self.linked_at, "unlinked_at": self.unlinked_at}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> CardLink:
        """A link as the cards topic keeps it; one written by an earlier version has at most one link before it
        (``previous``), or none and no end."""
        earlier = record.get("earlier")
        if earlier is None:
            previous = record.get("previous")  # a union's record reads as (its name, the record)
            earlier = [] if previous is None else [previous[1]]
        return cls(record["member_id"], record["linked_at"], record.get("unlinked_at"),
                   tuple(cls(link["member_id"], link["linked_at"], link["unlinked_at"]) for link in earlier))

    def linked_by(self, member_id: str, when: datetime) -> CardLink:
        """This ended link, and those before it, followed by ``member_id``'s link from ``when``."""
        return CardLink(member_id, when, earlier=(self._replace(earlier=()), *self.earlier))

    def without(self, member_id: str, erased_at: datetime) -> CardLink:
        """The link with ``member_id``, erased at ``erased_at``, wiped from it: only the times are kept. Their link
        ends then, if it is the card's current one, so that the card is free for another member."""
        link = self
        if link.member_id == member_id:
            link = link._replace(member_id=ERASED, unlinked_at=link.unlinked_at or erased_at)
        return link._replace(earlier=tuple(earlier._replace(member_id=ERASED) if earlier.member_id == member_id
                                           else earlier for earlier in link.earlier))


class CardDirectory:
    """The links read so far; ``read_on`` reads those written since."""

    def __init__(self, bootstrap: str, codec: AvroCodec) -> None:
        self._bootstrap = bootstrap
        self._codec = codec
        self.links: dict[str, CardLink] = {}  # by card token
        self._next: dict[tuple[str, int], int] = {}  # the offset each partition is read on from
        self._partitions: list[tuple[str, int]] = []  # asked of the broker at the first read only

    def read_on(self, timeout: float = 30.0) -> dict[str, CardLink]:
        """Read the cards topic from where the last read stopped (at first, from its start) to its end.

        Raises TimeoutError if that takes longer than ``timeout`` seconds; what was read
        by then is kept, and the next read goes on from there.
        """
        if not self._partitions:
            self._partitions = topic_partitions(self._bootstrap, [CARDS])
        for message in read_to_end(self._bootstrap, self._partitions, timeout, self._next):
            self._next[(message.topic(), message.partition())] = message.offset() + 1
            if message.value() is None:
                self.links.pop(message.key().decode(), None)
            else:
                record = self._codec.decode(message.value())
                self.links[record["card_token"]] = CardLink.from_record(record)
        return self.links
