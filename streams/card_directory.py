"""Which member each card token is linked to, as the compacted cards topic says.

Ingest writes a card's link there when it reads a CardLinked (a tombstone when
the member is erased) and reads the whole topic when it starts. The topic is the
only place that maps tokens to members: no output carries a token.
"""

from __future__ import annotations

from schemas.codec import AvroCodec
from streams.kafka import read_to_end, topic_partitions
from streams.topics import CARDS


class CardDirectory:
    """The links read so far; ``read_on`` reads those written since."""

    def __init__(self, bootstrap: str, codec: AvroCodec) -> None:
        self._bootstrap = bootstrap
        self._codec = codec
        self.members: dict[str, str] = {}  # card token -> member id
        self._next: dict[tuple[str, int], int] = {}  # the offset each partition is read on from
        self._partitions: list[tuple[str, int]] = []  # asked of the broker at the first read only

    def read_on(self, timeout: float = 30.0) -> dict[str, str]:
        """Read the cards topic from where the last read stopped (at first, from its start) to its end.

        Raises TimeoutError if that takes longer than ``timeout`` seconds; what was read
        by then is kept, and the next read goes on from there.
        """
        if not self._partitions:
            self._partitions = topic_partitions(self._bootstrap, [CARDS])
        for message in read_to_end(self._bootstrap, self._partitions, timeout, self._next):
            self._next[(message.topic(), message.partition())] = message.offset() + 1
            if message.value() is None:
                self.members.pop(message.key().decode(), None)
            else:
                link = self._codec.decode(message.value())
                self.members[link["card_token"]] = link["member_id"]
        return self.members
