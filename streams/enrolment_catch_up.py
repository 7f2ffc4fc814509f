"""Events that came before their member's enrolment are applied once it is.

Feeds do not wait for one another: a till can send a new member's first sale
before the sign-up system sends the enrolment. The worker refuses the sale
(unknown member) to the dead-letter topic, and once ClickHouse shows the member
enrolled, the running engine sends it again, as ``loyalty deadletters --resend``
would. It keeps its event_id, so nothing is applied twice; the letters go in the
order they were refused, so a return comes after its purchase.
"""

from __future__ import annotations

from processors.refusals import UNKNOWN_MEMBER
from schemas.codec import AvroCodec
from sinks.clickhouse import ClickHouseStore
from sinks.queries import refused_before_enrolment
from streams.resend import resend


class EnrolmentCatchUp:
    """Looks for such events whenever the sink has stored new dead letters, and every few seconds while some wait.

    Each letter is sent again once per run: one refused again (the member erased
    meanwhile, say) stays a dead letter for an operator.
    """

    EVERY_SECONDS = 5.0

    def __init__(self, bootstrap: str, codec: AvroCodec, store: ClickHouseStore) -> None:
        self._bootstrap = bootstrap
        self._codec = codec
        self._store = store
        self._resent: set[str] = set()
        self._letters_stored = -1  # the sink's count of dead letters stored when last looked: look at the start
        self._next_look = 0.0

    def look(self, letters_stored: int, now: float) -> int:
        """If it is time to look, send again the events whose member has enrolled since; how many were sent.

        ``letters_stored`` is the sink's count of dead letters stored, ``now`` is
        ``time.monotonic()``. Raises the store's errors; it looks again a few seconds later.
        """
        if letters_stored == self._letters_stored and now < self._next_look:
            return 0
        self._letters_stored = letters_stored
        self._next_look = now + self.EVERY_SECONDS
        letters = refused_before_enrolment(self._store, UNKNOWN_MEMBER)
        self._resent &= {letter["dead_letter_id"] for letter in letters}  # the rest were applied: forget them
        ready = [letter for letter in letters if letter["enrolled"] and letter["dead_letter_id"] not in self._resent]
        if all(letter["enrolled"] for letter in letters):  # none waits: look again when new dead letters come
            self._next_look = float("inf")
        if not ready:
            return 0
        resent = resend(self._bootstrap, self._codec, ready)
        self._resent.update(letter["dead_letter_id"] for letter in ready)
        return sum(resent.sent.values())
