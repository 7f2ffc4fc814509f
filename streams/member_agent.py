"""One step of the member agent: apply member batches, publish outputs, then write states and offsets.

A step takes one or more batches, in offset order per partition.
Each partition's last applied batch offset is kept in the members table next
to the states, so a batch at or below it is a redelivery and is skipped, and a
batch above the next expected offset reveals batches the stream skipped: they
are read straight from Kafka and applied first (see ``batch_gaps``). Outputs
are handed to the producer at every step.

States and offsets are written at most every ``WRITE_EVERY_SECONDS``, spread
over the steps that follow (see :class:`StateWrite`): writing a few thousand
states at once held the stream up for hundreds of milliseconds, and every
event behind it waited.
A write stores states only once every output they reflect is on the broker
(the producer is flushed first), and each partition's offset after its states.
A crash in between applies the batches since the last write again and
republishes the same outputs, which the sink folds together by their
deterministic ids.

A step whose rules fail on an event does the same without the crash: it drops
what is not written, sets the event aside (a dead letter) and applies the
batches again from the table, so one bad event stops neither its member nor
the others.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections import defaultdict
from collections.abc import Awaitable, Iterable
from functools import partial
from typing import NamedTuple

from processors.state import CampaignBudget, MemberState
from streams.batch_gaps import APPLIED_OFFSET_KEY, NOTHING_APPLIED, BatchReader
from streams.member_batches import EventFailed, MemberBatchApplier, Message
from streams.member_store import FaustTableStore
from streams.outputs import OutputPublisher
from streams.state_codec import StateEncoder

log = logging.getLogger(__name__)


# States are written at most this often: a member touched by several batches in between is written once.
# A crash loses no more than the batches since the last write, which are applied again from Kafka.
# At ~5,800 events/s over 5,000 members nearly every member is touched within 2 s: every 5 s encodes each
# less than half as often (worker 70-77 % of a core against 76-81 %, reward p99 116-243 ms against 207-726 ms,
# five alternating pairs at the same rate; the bulk rate did not change). Every half second cost more still.
WRITE_EVERY_SECONDS = 5.0
# Each step advances the write in progress by its share of the interval, so that encoding and storing each
# take about half of it, and by at least as many states as it applied events, so that writes keep up with
# what steps change. Done in a burst, a write of a few thousand states held up every event behind it by
# ~0.4 s (measured at 5,000 events/s).
WRITE_SHARE_MIN = 20
# With no steps to share it (the stream is quiet), the catch-up timer writes a slice at a time.
WRITE_SLICE = 200
# The catch-up applies at most this many batches of a partition a look, and the next look goes on: a worker far
# behind (started again after a long stop, say) neither reads its whole backlog into memory at once nor holds
# up the stream's steps for long.
CATCH_UP_MOST = 100


class Batch(NamedTuple):
    partition: int
    offset: int
    value: bytes


class StateWrite:
    """One write of the states taken from the applier, done a part at a time: encode them all, then store them.

    Encoding takes a snapshot: a state that a later step changes before it is
    encoded is written as it is then, which only reflects more events whose
    outputs were published before it was encoded. Each partition's offset
    is the one it had when the states were taken, stored after its states.
    """

    def __init__(self, states: dict[int, dict[str, MemberState | CampaignBudget]], offsets: dict[int, int]) -> None:
        self._states = [(partition, member_id, state)
                        for partition, members in states.items() for member_id, state in members.items()]
        self._offsets = offsets
        self._items: dict[int, list[tuple[bytes, bytes]]] = defaultdict(list)
        self._next = 0  # the first state not encoded yet
        self.encoded = False
        self.outputs_flushed = False

    @property
    def size(self) -> int:
        return len(self._states)

    def encode(self, encoder: StateEncoder, quota: float) -> bool:
        """Encode up to ``quota`` more states; True once all are encoded."""
        if self.encoded:
            return True
        stop = int(min(len(self._states), self._next + quota))
        items, encode = self._items, encoder.encode
        for partition, member_id, state in self._states[self._next:stop]:
            items[partition].append((member_id.encode(), encode(state)))
        self._next = stop
        if stop < len(self._states):
            return False
        for partition, offset in self._offsets.items():
            items[partition].append((APPLIED_OFFSET_KEY, str(offset).encode()))
        self.encoded = True
        return True

    def store(self, members: FaustTableStore, quota: float) -> bool:
        """Store up to ``quota`` more encoded items, in order; True once all are stored."""
        for partition in list(self._items):
            if quota < 1:
                return False
            items = self._items[partition]
            if quota < len(items):
                members.write(partition, items[:int(quota)])
                del items[:int(quota)]
                return False
            members.write(partition, items)
            quota -= len(items)
            del self._items[partition]
        return True


class MemberAgent:
    def __init__(self, members: FaustTableStore, applier: MemberBatchApplier,
                 publisher: OutputPublisher, reader: BatchReader,
                 write_every: float = WRITE_EVERY_SECONDS) -> None:
        self._members = members
        self._applier = applier
        self._publisher = publisher
        self._reader = reader
        self._applied: dict[int, int] = {}
        self._stepped_at: dict[int, float] = {}  # monotonic time of each partition's last step
        self._unwritten: set[int] = set()  # partitions with applied batches whose states are not written yet
        self._written_at = self._last_step = time.monotonic()
        self._write_every = write_every
        self._write: StateWrite | None = None
        self._lock = asyncio.Lock()
        self._encoder = StateEncoder()
        self._moves = 0  # how many times everything was forgotten: partitions may have moved
        self._steps = self._steps_at_catch_up = 0  # stream steps, in all and when catch-up last looked
        self._counted: dict[int, int] = {}  # each partition's last batch counted: one applied again is not
        self.counts = {"batches": 0, "applied": 0, "duplicates": 0, "refused": 0,
                       "redelivered_batches": 0, "batches_read_directly": 0, "set_aside": 0}

    def forget(self) -> None:
        """Drop everything cached or not yet written; the table is read again and the batches since
        its offsets are applied again (after a rebalance or a failed step)."""
        self._applier.forget()
        self._applied.clear()
        self._unwritten.clear()
        self._write = None
        self._moves += 1

    async def release(self) -> None:
        """The partitions go (a rebalance, or the worker stops): forget, once the step at hand is done (it must
        not find its state gone).

        Every state not written yet is written first, after the outputs it
        reflects, and made durable, so whoever takes a partition over (this
        worker, started again) recovers it rather than applying its batches
        again and publishing their outputs a second time.
        """
        async with self._lock:
            try:
                while self._write is not None or self._unwritten:
                    await self._write_some(sys.maxsize, 0.0, due=True)
                await asyncio.get_running_loop().run_in_executor(None, self._members.flush)
            except Exception as failure:  # the new owner applies those batches again: slower, still exact
                log.warning("not every state could be written before the partitions went: %r", failure)
            self.forget()

    def last_applied(self, partition: int) -> int:
        last = self._applied.get(partition)
        if last is None:
            stored = self._members.get(partition, APPLIED_OFFSET_KEY)
            last = self._applied[partition] = NOTHING_APPLIED if stored is None else int(stored)
        return last

    async def apply(self, batches: Iterable[Batch]) -> None:
        async with self._lock:
            self._steps += 1
            await self._apply_setting_aside(list(batches))

    async def _apply_setting_aside(self, batches: list[Batch]) -> None:
        """Apply ``batches``; if the rules fail on an event, forget what is not written, set the event aside and
        apply them again (with the batches since the table's offsets, read from Kafka)."""
        again = False
        while True:
            counts, counted = dict(self.counts), dict(self._counted)
            try:
                await self._or_forget(self._apply(batches, again))
                return
            except EventFailed as failed:
                if not self._applier.set_aside(failed):  # failed again though set aside: not the event's doing
                    raise
                log.error("%s; it is set aside as a dead letter, and the batches since the last write are "
                          "applied again without it", failed, exc_info=failed.failure)
                self.counts, self._counted = counts, counted  # the attempt's batches count when applied again
                self.counts["set_aside"] += 1
                again = True

    async def _or_forget(self, work: Awaitable[None]) -> None:
        """Do ``work``; if it fails, forget what is not written, to be applied again from Kafka."""
        try:
            await work
        except BaseException:
            self.forget()
            raise

    async def catch_up(self, partitions: Iterable[int], idle_seconds: float) -> None:
        """Apply batches waiting after the last applied ones that the stream has not delivered; write states.

        The stream can drop a batch while a rebalance settles; a later batch
        reveals the gap, but when none follows only this look finds it. Partitions
        that had a step within ``idle_seconds`` are left alone. The batches are
        read without holding up the stream's steps, and applied only if the
        partitions were not moved meanwhile and no step has applied them. If the
        stream had no step since the last look, states not yet written are
        written at the end, a slice at a time; otherwise its steps write them.
        """
        loop = asyncio.get_running_loop()
        quiet_since = time.monotonic() - idle_seconds
        stream_quiet, self._steps_at_catch_up = self._steps == self._steps_at_catch_up, self._steps
        for partition in partitions:
            if self._stepped_at.get(partition, 0.0) > quiet_since:
                continue
            moves = self._moves
            waiting = await loop.run_in_executor(None, partial(self._reader.read, partition,
                                                               self.last_applied(partition) + 1, None,
                                                               most=CATCH_UP_MOST))
            async with self._lock:
                if moves != self._moves:  # a rebalance: this partition may not be ours any more
                    return
                last = self.last_applied(partition)
                missed = [Batch(partition, offset, value) for offset, value in waiting if offset > last]
                if missed:
                    log.warning("member batches %s..%s of partition %s were not delivered by the stream; "
                                "read directly", missed[0].offset, missed[-1].offset, partition)
                    self.counts["batches_read_directly"] += len(missed)
                    await self._apply_setting_aside(missed)
                self._stepped_at[partition] = time.monotonic()
        if stream_quiet:
            await self._write_waiting()

    async def _write_waiting(self) -> None:
        """Write the states waiting, a slice at a time, letting stream steps in between.

        At most two writes: the one in progress, then the rest; should the
        stream come back meanwhile, its steps go first.
        """
        for _ in range(2):
            async with self._lock:
                if self._write is None and not self._unwritten:
                    return
                await self._or_forget(self._write_some(WRITE_SLICE, 0.0, due=True))
                write = self._write
            while write is not None and self._write is write:
                await asyncio.sleep(0)  # a step waiting for the lock goes first
                async with self._lock:
                    if self._write is write:
                        await self._or_forget(self._write_some(WRITE_SLICE, 0.0))

    async def _apply(self, batches: Iterable[Batch], again: bool = False) -> None:
        """Apply ``batches``, and those before them since the last applied (``again``: since the last written,
        forgotten to set an event aside, not lost by the stream)."""
        by_partition: dict[int, list[Batch]] = defaultdict(list)
        for batch in batches:
            by_partition[batch.partition].append(batch)
        messages: list[Message] = []
        applied_before, stepped = self.counts["applied"], 0
        loop = asyncio.get_running_loop()
        for partition, arrived in by_partition.items():
            last = self.last_applied(partition)
            for batch in sorted(arrived, key=lambda b: b.offset):
                if batch.offset <= last:
                    self.counts["redelivered_batches"] += 1
                    continue
                todo = [batch]
                if batch.offset > last + 1:
                    missing = await loop.run_in_executor(None, self._reader.read, partition, last + 1, batch.offset)
                    if last != NOTHING_APPLIED and not again:
                        log.warning("member batches %s..%s of partition %s did not come through the stream; "
                                    "read directly", last + 1, batch.offset - 1, partition)
                        self.counts["batches_read_directly"] += len(missing)
                    todo = [Batch(partition, offset, value) for offset, value in missing] + todo
                for each in todo:
                    if stepped:  # many batches: Faust's heartbeats run in between
                        await asyncio.sleep(0)
                    stepped += 1
                    messages += self._apply_batch(each)
                last = self._applied[partition] = batch.offset
            self._stepped_at[partition] = time.monotonic()
        self._publisher.publish(messages)
        self._unwritten.update(by_partition)
        now = time.monotonic()
        seconds, self._last_step = now - self._last_step, now
        await self._write_some(self.counts["applied"] - applied_before, seconds)

    async def _write_some(self, least: int, seconds: float, due: bool = False) -> None:
        """Advance the write in progress by at least ``least`` states and by the share of ``seconds``
        (see ``WRITE_SHARE_MIN``), or start one if it is ``due`` or time.

        Once its states are encoded, the outputs they reflect are flushed to the
        broker (and the states written before made durable) before any is stored.
        """
        write = self._write
        if write is None:
            if not self._unwritten or (not due and time.monotonic() - self._written_at < self._write_every):
                return
            write = self._write = StateWrite(self._applier.take_pending(),
                                             {partition: self._applied[partition] for partition in self._unwritten})
            self._unwritten.clear()
        share = min(1.0, 2 * seconds / self._write_every) if self._write_every else 1.0
        quota = max(least, WRITE_SHARE_MIN, write.size * share)
        if not write.encode(self._encoder, quota):
            return
        if not write.outputs_flushed:
            await self._publisher.flush()
            await asyncio.get_running_loop().run_in_executor(None, self._members.flush)
            write.outputs_flushed = True
        if write.store(self._members, quota):
            self._applier.written()
            self._write = None
            self._written_at = time.monotonic()

    def _apply_batch(self, batch: Batch) -> list[Message]:
        members = self._members
        result = self._applier.apply(batch.value, batch.partition, batch.offset,
                                     lambda member_id: members.get(batch.partition, member_id.encode()))
        if batch.offset > self._counted.get(batch.partition, NOTHING_APPLIED):  # not counted when applied again
            self._counted[batch.partition] = batch.offset
            counts = self.counts
            counts["batches"] += 1
            counts["applied"] += result.applied
            counts["duplicates"] += result.duplicates
            counts["refused"] += result.refused
        return result.messages
