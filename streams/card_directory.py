"""Which member each card token is linked to, as the compacted cards topic says.

Ingest writes a card's link there when it reads a CardLinked, the link with the
time it ended when it reads a CardUnlinked (transactions made before then still
earn for the member, however late they arrive), and a tombstone when the member
is erased. It reads the whole topic when it starts. The topic is the only place
that maps tokens to members: no output carries a token.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from schemas.codec import AvroCodec
from streams.kafka import read_to_end, topic_partitions
from streams.topics import CARDS


class CardLink(NamedTuple):
    """A card's member, since when, and until when if the member unlinked it."""

    member_id: str
    linked_at: datetime
    unlinked_at: datetime | None = None

    def record(self, card_token: str) -> dict[str, Any]:
        """The cards topic's record of this link."""
        return {"card_token": card_token, **self._asdict()}


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
                link = self._codec.decode(message.value())  # written before unlinking was kept: no unlinked_at
                self.links[link["card_token"]] = CardLink(link["member_id"], link["linked_at"], link.get("unlinked_at"))
        return self.links
