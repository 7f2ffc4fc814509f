"""Which member each card token is linked to, as the compacted cards topic says.

Ingest writes a card's link there when it reads a CardLinked, the link with the
time it ended when it reads a CardUnlinked, and a tombstone when the member is
erased. It reads the whole topic when it starts. The topic is the only place
that maps tokens to members: no output carries a token.

A bank sends card transactions late, often by days, so a transaction goes to
the member whose link was in force when it was made. A link keeps the one
before it (ended by its member before another could link the card): a
household's card that moves from one member to the other still earns the first
member what they bought before unlinking it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from schemas.codec import AvroCodec
from streams.kafka import read_to_end, topic_partitions
from streams.topics import CARDS

ERASED = ""  # the member id an ended link keeps once its member is erased


class Unlinked(NamedTuple):
    """Why a card transaction earns for nobody, in words for its dead letter."""

    why: str


class CardLink(NamedTuple):
    """A card's member, since when, until when if the member unlinked it, and the link it followed."""

    member_id: str
    linked_at: datetime
    unlinked_at: datetime | None = None
    previous: CardLink | None = None  # ended: its unlinked_at is set

    def member_at(self, when: datetime) -> str | Unlinked:
        """The member a transaction made at ``when`` earns for, or why it earns for nobody.

        One made before the card's first link known here goes to its member: a sale paid by card just
        before its link (or on a bank's date without a time) still counts.
        """
        if self.unlinked_at is not None and when >= self.unlinked_at:
            return Unlinked(f"its member unlinked the card at {self.unlinked_at:%Y-%m-%d %H:%M} UTC")
        previous = self.previous  # ended: its unlinked_at is set
        if when >= self.linked_at or previous is None or previous.unlinked_at is None:
            return self.member_id
        if when < previous.linked_at:  # only one link back is kept
            return Unlinked(f"it was made before the card's earlier member linked it, at "
                            f"{previous.linked_at:%Y-%m-%d %H:%M} UTC, and whose it was before that is not kept")
        if when >= previous.unlinked_at:
            return Unlinked(f"its member unlinked the card at {previous.unlinked_at:%Y-%m-%d %H:%M} UTC and the next "
                            f"linked it at {self.linked_at:%Y-%m-%d %H:%M} UTC")
        if previous.member_id == ERASED:
            return Unlinked("the member it was linked to then has since been erased")
        return previous.member_id

    def record(self, card_token: str) -> dict[str, Any]:
        """The cards topic's record of this link."""
        previous = self.previous
        return {"card_token": card_token, **self._ends(), "previous": None if previous is None else previous._ends()}

    def _ends(self) -> dict[str, Any]:
        return {"member_id": self.member_id, "linked_at": self.linked_at, "unlinked_at": self.unlinked_at}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> CardLink:
        """A link as the cards topic keeps it (one written before links could end has no end and no previous)."""
        ended = record.get("previous")  # a union's record reads as (its name, the record)
        previous = None if ended is None else cls(ended[1]["member_id"], ended[1]["linked_at"], ended[1]["unlinked_at"])
        return cls(record["member_id"], record["linked_at"], record.get("unlinked_at"), previous)


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
