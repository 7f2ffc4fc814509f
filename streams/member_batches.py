"""Apply one MemberBatch: each touched member's state is read once and written once.

The rules decide; this module only loads states, feeds events in order,
encodes what the rules emitted and what the dead-letter topic needs.

An event the engine fails on (a rule raising: a bug, not a refusal) must not
stop every member behind it, nor be retried for ever. ``apply`` raises
:class:`EventFailed` naming it; the caller drops what is not written (the rule
may have changed the state half-way) and applies the batches again, and this
time the event is *set aside*: a dead letter saying what failed, to be sent
again once the engine is fixed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from processors.decide import decide
from processors.outputs import Decision, FollowUp
from processors.program import Program
from processors.state import CampaignBudget, MemberState
from schemas.codec import AvroCodec
from streams.ingest import dead_letter, failure_reason
from streams.records import as_record, event_from_record, follow_up_record, output_destination
from streams.state_codec import decode_state
from streams.topics import DEADLETTER, ENGINE_EVENTS, MEMBER_BATCHES

Record = dict[str, Any]


@dataclass
class Message:
    topic: str
    key: bytes
    value: bytes


class EventFailed(Exception):
    """The engine failed on one event: set it aside (see :meth:`MemberBatchApplier.set_aside`) and apply again."""

    def __init__(self, member_id: str, event_id: str, failure: Exception) -> None:
        super().__init__(f"the engine failed on event {event_id} of member {member_id}: {failure!r}")
        self.member_id = member_id
        self.event_id = event_id
        self.failure = failure


@dataclass
class BatchResult:
    messages: list[Message] = field(default_factory=list)
    applied: int = 0
    duplicates: int = 0
    refused: int = 0


class MemberBatchApplier:
    """Applies batches; keeps decoded states of recently seen members to skip decoding them.

    States a batch changed stay *pending* (later batches see them) until
    :meth:`take_pending` hands them to a write; then they are *being written*
    until :meth:`written` confirms they are in the table, the source of truth,
    and only then do they enter the cache. Until then a batch reads them here,
    never the table's older copy. :meth:`forget` drops all of them, on a
    rebalance (another worker may have changed cached members) or a failed step.
    """

    def __init__(self, codec: AvroCodec, program: Program, cache_members: int = 500_000) -> None:
        self._codec = codec
        self._program = program
        self._cache: dict[str, MemberState | CampaignBudget] = {}
        self._pending: dict[int, dict[str, MemberState | CampaignBudget]] = {}  # by partition
        self._writing: dict[str, MemberState | CampaignBudget] = {}
        self._cache_members = cache_members
        self._set_aside: dict[tuple[str, str], str] = {}  # (member id, event id): why

    def set_aside(self, failed: EventFailed) -> bool:
        """Dead-letter ``failed``'s event whenever it comes from now on; False if it was set aside already."""
        key = (failed.member_id, failed.event_id)
        if key in self._set_aside:
            return False
        self._set_aside[key] = failure_reason(failed.failure)
        return True

    def take_pending(self) -> dict[int, dict[str, MemberState | CampaignBudget]]:
        """The states changed since the last take, by partition, now being written to the table."""
        taken, self._pending = self._pending, {}
        for states in taken.values():
            self._writing.update(states)
        return taken

    def written(self) -> None:
        """The states taken are in the table now: cache them."""
        if len(self._cache) + len(self._writing) > self._cache_members:
            self._cache.clear()
        self._cache.update(self._writing)
        self._writing = {}

    def forget(self) -> None:
        self._cache.clear()
        self._pending = {}
        self._writing = {}

    def _load(self, member_id: str, pending: dict[str, MemberState | CampaignBudget],
              load_state: Callable[[str], bytes | None]) -> MemberState | CampaignBudget | None:
        state = pending.get(member_id)
        if state is None:
            state = self._writing.get(member_id)
        if state is None:
            state = self._cache.get(member_id)
        if state is None:
            stored = load_state(member_id)
            state = None if stored is None else decode_state(stored)
        return state

    def apply(self, batch: bytes, partition: int, offset: int,
              load_state: Callable[[str], bytes | None]) -> BatchResult:
        """Apply a batch in stages: decode every event, decide each, then encode what they emitted.

        Going through the batch once per stage, each stage's code stays hot: a fifth faster than
        taking each event through all three (measured on the demo day's batches). Each topic still
        gets its messages in the order of the events.
        """
        result = BatchResult()
        pending = self._pending.setdefault(partition, {})
        states: dict[str, MemberState | CampaignBudget | None] = {}
        decode = self._codec.decode
        received = decode(batch)["events"]
        records = [decode(each["event"], "LoyaltyEvent") for each in received]
        applied: list[tuple[str, str, Decision]] = []
        set_aside = self._set_aside
        for each, record in zip(received, records, strict=True):
            member_id = record["member_id"] = each["member_id"]
            event_id = record["event_id"]
            if member_id not in states:
                states[member_id] = self._load(member_id, pending, load_state)
            if set_aside and (member_id, event_id) in set_aside:
                result.refused += 1
                result.messages.append(self._refusal(record, each["event"], set_aside[member_id, event_id],
                                                     partition, offset))
                continue
            try:
                decision = decide(states[member_id], event_from_record(record), self._program, each["received_at"])
            except Exception as failure:
                raise EventFailed(member_id, event_id, failure) from failure
            if decision.refusal is not None:
                result.refused += 1
                result.messages.append(self._refusal(record, each["event"], decision.refusal.reason, partition,
                                                     offset))
                if decision.refusal.final and decision.state is not None:  # its id is remembered: write the state
                    states[member_id] = pending[member_id] = decision.state
            elif decision.duplicate:
                result.duplicates += 1
            else:
                state = decision.state
                assert state is not None  # an applied event always leaves a state
                states[member_id] = pending[member_id] = state
                applied.append((member_id, event_id, decision))
        result.applied = len(applied)
        for member_id, event_id, decision in applied:
            try:
                result.messages += self._output_messages(member_id, decision)
            except Exception as failure:  # an output its contract cannot carry
                raise EventFailed(member_id, event_id, failure) from failure
        return result

    def _output_messages(self, member_id: str, decision: Decision) -> list[Message]:
        encode, messages, key = self._codec.encode, [], member_id.encode()
        for output in decision.outputs:
            if type(output) is FollowUp:  # through the engine's own topic, on to the other member's partition
                event = output.event
                value = encode(ENGINE_EVENTS, "LoyaltyEvent", follow_up_record(event))
                messages.append(Message(ENGINE_EVENTS, event.source.encode(), value))
                continue
            topic, contract = output_destination(output)
            messages.append(Message(topic, key, encode(topic, contract, as_record(output))))
        return messages

    def _refusal(self, record: Record, original: bytes, reason: str, partition: int, offset: int) -> Message:
        letter = dead_letter("member", reason, MEMBER_BATCHES, partition, offset, record["member_id"].encode(),
                             original, record["event_id"], f"member:{record['event_id']}", record["member_id"])
        return Message(DEADLETTER, record["member_id"].encode(), self._codec.encode(DEADLETTER, "DeadLetter", letter))
