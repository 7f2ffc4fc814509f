"""The member agent applies every batch once and in order, whatever the stream delivers.

Batches are written to the real broker; the agent is handed some of them as a
stream would (with a gap, then a redelivery) and must read the rest from Kafka.
Its table is a real Faust RocksDB table (of an app that is not started).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faust
import pytest
from brokers import BROKERS, started_broker
from confluent_kafka import Consumer, Producer, TopicPartition
from faust.types import TP

from processors import decide as decide_module
from processors.engagement import record_engagement
from processors.events import CardLinked
from processors.state import CampaignBudget, MemberState
from schemas.codec import AvroCodec
from schemas.registry import EmbeddedRegistry
from streams import member_agent
from streams.batch_gaps import APPLIED_OFFSET_KEY, BatchReader
from streams.changelog import END_MARKER_KEY
from streams.demo_feed import synthetic_day
from streams.kafka import consumer_config, producer_config
from streams.member_agent import Batch, MemberAgent, StateWrite
from streams.member_batches import MemberBatchApplier
from streams.member_store import FaustTableStore
from streams.offline import ingested
from streams.outputs import OutputPublisher
from streams.program_file import load_program
from streams.state_codec import StateEncoder, decode_state
from streams.topics import DEADLETTER, LEDGER, MEMBER_BATCHES, MEMBERS_CHANGELOG, ensure_topics


def faust_table_store(bootstrap: str, tmp_path: Path, partitions: int) -> tuple[Any, FaustTableStore]:
    """The members table of a Faust app that is not started, and the store that writes it."""
    app = faust.App("loyalty", broker=f"kafka://{bootstrap}", store="rocksdb://", datadir=str(tmp_path / "worker"))
    table = app.Table("members", key_type=bytes, value_type=bytes, partitions=partitions)
    return table, FaustTableStore(table, bootstrap)


def changelog(bootstrap: str, partition: int) -> list[tuple[bytes, bytes, int]]:
    consumer = Consumer(consumer_config(bootstrap, "changelog-check"))
    consumer.assign([TopicPartition(MEMBERS_CHANGELOG, partition, 0)])
    records = [(m.key(), m.value(), m.offset()) for m in consumer.consume(100, 3) if m.error() is None]
    consumer.close()
    return records


def member_batches(codec: AvroCodec, members: int) -> list[bytes]:
    """One batch per member: the member's enrolment and card link."""
    by_member: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in ingested(codec, synthetic_day(members, 0).base):
        by_member[record["member_id"]].append(record)
    return [codec.encode(MEMBER_BATCHES, "MemberBatch", {"events": records}) for records in by_member.values()]


@dataclass
class AgentOnBroker:
    agent: MemberAgent
    table: Any
    batches: list[bytes]
    bootstrap: str
    codec: AvroCodec

    def stored(self) -> dict[bytes, bytes]:
        """What partition 0 of the table holds, less Faust's own bookkeeping."""
        return {key: value for key, value in self.table.data._db_for_partition(0).items()
                if key != self.table.data.offset_key}


@contextlib.contextmanager
def agent_on_broker(kind: str, tmp_path: Path, members: int, write_every: float) -> Iterator[AgentOnBroker]:
    """A member agent on a one-partition broker that holds one batch per member."""
    codec = AvroCodec(EmbeddedRegistry())
    with started_broker(kind, tmp_path) as bootstrap:
        ensure_topics(bootstrap, 1)
        batches = member_batches(codec, members)
        producer = Producer(producer_config(bootstrap))
        for value in batches:
            producer.produce(MEMBER_BATCHES, value, partition=0)
        producer.flush()
        publisher, reader = OutputPublisher(bootstrap), BatchReader(bootstrap)
        table, store = faust_table_store(bootstrap, tmp_path, 1)
        agent = MemberAgent(store, MemberBatchApplier(codec, load_program(None)), publisher, reader, write_every)
        try:
            yield AgentOnBroker(agent, table, batches, bootstrap, codec)
        finally:
            publisher.close()
            store.close()
            reader.close()


def topic_values(bootstrap: str, topic: str) -> list[bytes]:
    consumer = Consumer(consumer_config(bootstrap, f"{topic}-check"))
    consumer.assign([TopicPartition(topic, 0, 0)])
    values = [m.value() for m in consumer.consume(100, 3) if m.error() is None]
    consumer.close()
    return values


def ledger_members(bootstrap: str, codec: AvroCodec) -> Counter[str]:
    return Counter(codec.decode(value)["member_id"] for value in topic_values(bootstrap, LEDGER))


@pytest.mark.parametrize("kind", BROKERS)
def test_a_gap_is_read_from_kafka_a_redelivery_is_skipped_and_an_undelivered_tail_is_caught_up(
    kind: str, tmp_path: Path,
) -> None:
    with agent_on_broker(kind, tmp_path, members=5, write_every=0) as on:
        agent, batches = on.agent, on.batches

        async def stream_delivers() -> None:
            await agent.apply([Batch(0, 0, batches[0]), Batch(0, 3, batches[3])])  # 1 and 2 skipped
            assert agent.counts["batches_read_directly"] == 2
            assert on.stored()[APPLIED_OFFSET_KEY] == b"3"
            await agent.apply([Batch(0, 2, batches[2])])  # comes late: already applied
            assert agent.counts["redelivered_batches"] == 1
            await agent.catch_up([0], idle_seconds=0)  # batch 4 never comes through the stream
            assert agent.counts["batches_read_directly"] == 3

        asyncio.run(stream_delivers())

        stored = on.stored()
        assert stored[APPLIED_OFFSET_KEY] == b"4"
        assert agent.counts["batches"] == 5
        assert len(stored) == 6  # five members and the offset
        welcomed = ledger_members(on.bootstrap, on.codec)
        assert len(welcomed) == 5 and set(welcomed.values()) == {1}


@pytest.mark.parametrize("kind", BROKERS)
def test_reading_what_waits_ends_on_a_partition_that_is_being_written_to(kind: str, tmp_path: Path) -> None:
    """The end is where the partition stood when the read began, not wherever new batches have got to."""
    with started_broker(kind, tmp_path) as bootstrap:
        ensure_topics(bootstrap, 1)
        producer = Producer(producer_config(bootstrap))
        for n in range(20):
            producer.produce(MEMBER_BATCHES, f"batch {n}".encode(), partition=0)
        producer.flush()
        writing = threading.Event()

        def keep_writing() -> None:  # a batch every 20 ms, as ingest sends them under a steady stream
            while writing.is_set():
                producer.produce(MEMBER_BATCHES, b"later", partition=0)
                producer.flush()
                time.sleep(0.02)

        writing.set()
        writer = threading.Thread(target=keep_writing)
        writer.start()
        reader = BatchReader(bootstrap)
        try:
            time.sleep(0.5)
            for start in (5, 0):
                read = reader.read(0, start, None, timeout=10)  # used to chase new batches until the timeout
                offsets = [offset for offset, _ in read]
                assert offsets == list(range(start, start + len(offsets))) and len(offsets) >= 20 - start
        finally:
            writing.clear()
            writer.join()
            reader.close()


@pytest.mark.parametrize("kind", BROKERS)
def test_a_catch_up_applies_a_bounded_share_of_what_waits_a_look_letting_the_event_loop_run_between_batches(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(member_agent, "CATCH_UP_MOST", 2)
    with agent_on_broker(kind, tmp_path, members=3, write_every=0) as on:
        agent = on.agent
        heard: list[int] = []  # how many batches were applied whenever another coroutine ran

        async def look_twice_while_a_heartbeat_runs() -> int:
            async def heartbeat() -> None:
                while True:
                    heard.append(agent.counts["batches"])
                    await asyncio.sleep(0)

            beating = asyncio.create_task(heartbeat())
            await agent.catch_up([0], idle_seconds=0)
            first_look = agent.counts["batches"]
            await agent.catch_up([0], idle_seconds=0)
            beating.cancel()
            return first_look

        assert asyncio.run(look_twice_while_a_heartbeat_runs()) == 2
        assert agent.counts["batches"] == 3 and on.stored()[APPLIED_OFFSET_KEY] == b"2"
        assert 1 in heard  # it ran between the first look's two batches


@pytest.mark.parametrize("kind", BROKERS)
def test_batches_read_for_a_partition_that_moved_meanwhile_are_not_applied(kind: str, tmp_path: Path) -> None:
    with agent_on_broker(kind, tmp_path, members=2, write_every=0) as on:
        agent, read = on.agent, on.agent._reader.read

        def read_during_a_rebalance(partition: int, start: int, end: int | None,
                                    most: int | None = None) -> list[tuple[int, bytes]]:
            agent.forget()  # what a rebalance does while the read is under way
            return read(partition, start, end, most=most)

        agent._reader.read = read_during_a_rebalance  # type: ignore[method-assign]
        asyncio.run(agent.catch_up([0], idle_seconds=0))
        assert agent.counts["batches"] == 0 and on.stored() == {}
        agent._reader.read = read  # type: ignore[method-assign]
        asyncio.run(agent.catch_up([0], idle_seconds=0))
        assert agent.counts["batches_read_directly"] == 2 and on.stored()[APPLIED_OFFSET_KEY] == b"1"


@pytest.mark.parametrize("kind", BROKERS)
def test_states_are_written_behind_and_a_forgotten_step_is_applied_again_from_kafka(
    kind: str, tmp_path: Path,
) -> None:
    with agent_on_broker(kind, tmp_path, members=3, write_every=3600) as on:
        agent, batches = on.agent, on.batches

        async def crash_and_restart() -> None:
            await agent.apply([Batch(0, 0, batches[0]), Batch(0, 1, batches[1])])
            assert on.stored() == {}  # outputs are out, states wait for the next write
            await agent.catch_up([0], idle_seconds=3600)  # the periodic look: the stream is busy, not its turn
            assert on.stored() == {}
            await agent.catch_up([0], idle_seconds=3600)  # no step since the last look: it writes what is due
            stored = on.stored()
            assert stored[APPLIED_OFFSET_KEY] == b"1" and len(stored) == 3
            await agent.apply([Batch(0, 2, batches[2])])
            agent.forget()  # a failed step or a rebalance: the unwritten member is gone from memory
            await agent.catch_up([0], idle_seconds=0)  # batch 2 is after the table's offset: applied again
            await agent.catch_up([0], idle_seconds=3600)  # and written at the next look, the stream being quiet

        asyncio.run(crash_and_restart())

        stored = on.stored()
        assert stored[APPLIED_OFFSET_KEY] == b"2" and len(stored) == 4
        welcomed = ledger_members(on.bootstrap, on.codec)
        assert len(welcomed) == 3 and max(welcomed.values()) == 2  # the replayed welcome came out twice


@pytest.mark.parametrize("kind", BROKERS)
def test_partitions_that_go_take_every_state_not_written_yet_with_them(kind: str, tmp_path: Path) -> None:
    with agent_on_broker(kind, tmp_path, members=3, write_every=3600) as on:
        agent, batches = on.agent, on.batches

        async def stop_and_start_again() -> None:
            await agent.apply([Batch(0, offset, batch) for offset, batch in enumerate(batches)])
            assert on.stored() == {}  # not yet time to write
            await agent.release()  # the partitions go (a rebalance, or the worker stops): written first
            stored = on.stored()
            assert stored[APPLIED_OFFSET_KEY] == b"2" and len(stored) == 4
            await agent.catch_up([0], idle_seconds=0)  # whoever has the partition next: nothing to apply again
            assert agent.counts["batches_read_directly"] == 0

        asyncio.run(stop_and_start_again())

        welcomed = ledger_members(on.bootstrap, on.codec)
        assert len(welcomed) == 3 and set(welcomed.values()) == {1}  # each welcome published once


@pytest.mark.parametrize("kind", BROKERS)
def test_written_states_are_in_their_partition_and_its_changelog_and_recovery_starts_after_them(
    kind: str, tmp_path: Path,
) -> None:
    with started_broker(kind, tmp_path) as bootstrap:
        ensure_topics(bootstrap, 2)
        table, store = faust_table_store(bootstrap, tmp_path, 2)
        store.write(1, [(b"m-1", b"state 1"), (b"m-2", b"state 2")])
        store.write(1, [(b"m-1", b"state 1, later")])
        assert store.get(1, b"m-1") == b"state 1, later" and store.get(0, b"m-1") is None
        store.flush()
        store.close()

        *records, end = changelog(bootstrap, 1)
        assert [(key, value) for key, value, _ in records] == [
            (b"m-1", b"state 1"), (b"m-2", b"state 2"), (b"m-1", b"state 1, later")]
        assert end[0] == END_MARKER_KEY  # in a batch of its own: the partition's end is told right
        assert table.data.persisted_offset(TP(MEMBERS_CHANGELOG, 1)) == records[-1][2]
        assert table.data.persisted_offset(TP(MEMBERS_CHANGELOG, 0)) is None


@pytest.mark.parametrize("kind", BROKERS)
def test_a_write_in_slices_stores_each_partitions_states_before_its_offset(kind: str, tmp_path: Path) -> None:
    with started_broker(kind, tmp_path) as bootstrap:
        ensure_topics(bootstrap, 2)
        _, store = faust_table_store(bootstrap, tmp_path, 2)
        states = {0: {f"c{n}": CampaignBudget(f"c{n}", n, {}) for n in range(3)},
                  1: {"c9": CampaignBudget("c9", 9, {})}}
        write = StateWrite(states, {0: 7, 1: 8})
        encoder = StateEncoder()
        assert not write.encode(encoder, 2)  # two of the four states
        assert write.encode(encoder, 2) and write.encode(encoder, 2)  # done, and stays done
        assert not write.store(store, 2)
        assert store.get(0, b"c1") is not None and store.get(0, b"c2") is None
        assert not write.store(store, 3)  # the rest of partition 0, its offset last, and c9
        assert store.get(0, APPLIED_OFFSET_KEY) == b"7" and store.get(1, APPLIED_OFFSET_KEY) is None
        assert write.store(store, 2)
        assert store.get(1, APPLIED_OFFSET_KEY) == b"8" and decode_state(store.get(1, b"c9") or b"") == states[1]["c9"]
        store.flush()
        store.close()
        assert [key for key, _, _ in changelog(bootstrap, 0)] == [b"c0", b"c1", b"c2", APPLIED_OFFSET_KEY,
                                                                 END_MARKER_KEY]
        assert [key for key, _, _ in changelog(bootstrap, 1)] == [b"c9", APPLIED_OFFSET_KEY, END_MARKER_KEY]


def test_a_state_being_written_is_read_from_memory_not_from_the_table_behind_it() -> None:
    codec = AvroCodec(EmbeddedRegistry())
    applier = MemberBatchApplier(codec, load_program(None))
    batch = member_batches(codec, 1)[0]  # a member's enrolment and card link
    table: dict[str, bytes] = {}  # nothing written yet
    assert applier.apply(batch, 0, 0, table.get).applied == 2
    assert [len(states) for states in applier.take_pending().values()] == [1]
    again = applier.apply(batch, 0, 1, table.get)  # the same events while that state is being written
    assert (again.applied, again.duplicates) == (0, 2)
    applier.written()
    assert applier.apply(batch, 0, 2, table.get).duplicates == 2  # cached once written


@pytest.mark.parametrize("kind", BROKERS)
def test_an_event_the_rules_fail_on_is_set_aside_and_what_it_changed_half_way_is_dropped(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A rule that raises (a bug) on one member's card link: that event becomes a dead letter, its member's
    other events and every other member's go on, and nothing the rule did before raising is kept."""
    failed_on: list[str] = []

    def failing_rule(state: MemberState, event: CardLinked, rules: Any) -> Any:
        if not failed_on or event.member_id == failed_on[0]:  # the first member whose card is linked
            failed_on[:] = [event.member_id]
            state.balance += 1_000  # half-way through, then the bug
            raise ZeroDivisionError("a rule's bug")
        return record_engagement(state, event, rules)

    monkeypatch.setitem(decide_module._RULES, CardLinked, failing_rule)
    with agent_on_broker(kind, tmp_path, members=8, write_every=0) as on:
        agent, batches = on.agent, on.batches

        async def stream_delivers() -> None:
            await agent.apply([Batch(0, offset, batches[offset]) for offset in range(4)])
            await agent.apply([Batch(0, offset, batches[offset]) for offset in range(2, 8)])  # a redelivery too

        asyncio.run(stream_delivers())

        assert agent.counts["set_aside"] == 1
        events = sum(len(on.codec.decode(batch)["events"]) for batch in batches)
        counts = agent.counts  # each batch counted once, though those of the failed step were applied twice
        assert (counts["batches"], counts["redelivered_batches"], counts["batches_read_directly"]) == (8, 2, 0)
        assert (counts["applied"], counts["refused"]) == (events - 1, 1)
        stored = on.stored()
        assert stored[APPLIED_OFFSET_KEY] == b"7" and len(stored) == 9
        states = {key.decode(): decode_state(value) for key, value in stored.items() if key != APPLIED_OFFSET_KEY}
        assert {member: state.balance for member, state in states.items()} == dict.fromkeys(states, 100)
        letters = [on.codec.decode(value) for value in topic_values(on.bootstrap, DEADLETTER)]
        assert {(letter["member_id"], letter["stage"]) for letter in letters} == {(failed_on[0], "member")}
        assert letters[0]["reason"].startswith("the engine failed on this event (ZeroDivisionError: a rule's bug)")
        assert on.codec.decode(letters[0]["value"])["event_id"] == f"card-{failed_on[0]}"
        assert set(ledger_members(on.bootstrap, on.codec)) == set(states)
