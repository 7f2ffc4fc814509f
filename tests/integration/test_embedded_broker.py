"""The embedded Tansu broker and the topic catalogue work with real Kafka clients.

These guard the contract the engine relies on: topics exist with the declared
partition counts and configs, an idempotent confluent-kafka producer keyed with
murmur2 (so Faust/aiokafka and confluent-kafka agree on partitions) round-trips
through a consumer group, and stopping the broker leaves no process behind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource

from streams.changelog import seal_changelog
from streams.embedded import BrokerStartError, EmbeddedBroker, free_ports, port_is_free
from streams.topics import CARDS, Cleanup, TopicSpec, engine_topics, ensure_topics

N_MESSAGES = 1_000
PARTITIONS = 4


def _process_gone(pid: int) -> bool:
    """True if ``pid`` no longer exists (or is only a zombie awaiting its reaper)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


def test_all_engine_topics_exist_with_declared_partitions(broker: EmbeddedBroker) -> None:
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    topics = admin.list_topics(timeout=10).topics
    for spec in engine_topics(PARTITIONS):
        assert spec.name in topics, f"{spec.name} missing"
        assert len(topics[spec.name].partitions) == spec.partitions == PARTITIONS


def test_topic_configs_carry_retention_and_cleanup(broker: EmbeddedBroker) -> None:
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    specs = {s.name: s for s in engine_topics(PARTITIONS)}
    futures = admin.describe_configs([ConfigResource("topic", name) for name in specs])
    for resource, fut in futures.items():
        cfg = {k: v.value for k, v in fut.result(timeout=10).items()}
        spec = specs[resource.name]
        assert cfg["retention.ms"] == str(spec.retention_ms)
        assert cfg["cleanup.policy"] == str(spec.cleanup)
    assert specs[CARDS].cleanup is Cleanup.COMPACT


def test_ensure_topics_is_idempotent(broker: EmbeddedBroker) -> None:
    assert ensure_topics(broker.bootstrap, PARTITIONS) == []


def test_idempotent_murmur2_producer_round_trips_through_a_consumer_group(broker: EmbeddedBroker) -> None:
    # A private topic: other tests share this session broker and its engine topics.
    topic = f"test.roundtrip.{uuid.uuid4().hex[:8]}"
    assert ensure_topics(broker.bootstrap, specs=[TopicSpec(topic, "test", PARTITIONS)]) == [topic]

    sent: dict[bytes, bytes] = {}
    producer = Producer(
        {
            "bootstrap.servers": broker.bootstrap,
            "enable.idempotence": True,
            "acks": "all",
            "partitioner": "murmur2_random",
            "linger.ms": 5,
        }
    )
    delivery_errors: list[KafkaError] = []
    partition_of_key: dict[bytes, set[int]] = {}

    def on_delivery(err: KafkaError | None, msg: object) -> None:
        if err is not None:
            delivery_errors.append(err)
            return
        partition_of_key.setdefault(msg.key(), set()).add(msg.partition())  # type: ignore[attr-defined]

    for i in range(N_MESSAGES):
        key = f"member-{i % 97}".encode()
        value = json.dumps({"seq": i, "member": key.decode(), "points": i % 13}).encode()
        sent[value] = key
        producer.produce(topic, key=key, value=value, on_delivery=on_delivery)
        producer.poll(0)
    assert producer.flush(15) == 0
    assert delivery_errors == []
    # Keyed messages stick to one partition, the one aiokafka (Faust) would choose.
    from aiokafka.partitioner import murmur2  # type: ignore[import-untyped]

    for key, parts in partition_of_key.items():
        assert parts == {(murmur2(key) & 0x7FFFFFFF) % PARTITIONS}, key

    consumer = Consumer(
        {
            "bootstrap.servers": broker.bootstrap,
            "group.id": f"test-roundtrip-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 1000,
        }
    )
    received: list[tuple[bytes | None, bytes | None]] = []
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + 60
        while len(received) < N_MESSAGES and time.monotonic() < deadline:
            for msg in consumer.consume(num_messages=500, timeout=1.0):
                assert msg.error() is None, msg.error()
                received.append((msg.key(), msg.value()))
        # A short grace period catches duplicates arriving after the count was reached.
        for msg in consumer.consume(num_messages=500, timeout=1.0):
            if msg.error() is None:
                received.append((msg.key(), msg.value()))
        consumer.commit(asynchronous=False)
    finally:
        consumer.close()

    assert len(received) == N_MESSAGES
    assert {v: k for k, v in received} == sent


def test_stop_leaves_no_process_and_frees_the_port(tmp_path: Path) -> None:
    with EmbeddedBroker(log_dir=tmp_path) as b:
        pid, port = b.pid, b.port
        assert pid is not None and port is not None
        assert b.is_running()
        assert not port_is_free(port)
    assert not b.is_running()
    assert _process_gone(pid)
    assert port_is_free(port)
    assert b.log_path is not None and b.log_path.read_text().startswith("tansu broker")
    with pytest.raises(RuntimeError, match="not started"):
        _ = b.bootstrap


def test_server_ports_are_consecutive_free_and_outside_the_outgoing_range() -> None:
    first = free_ports(3)
    low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    assert all(port_is_free(port) and not low <= port <= high for port in range(first, first + 3))


def test_missing_binary_says_how_to_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALF_TANSU_BIN", str(tmp_path / "no-such-tansu"))
    with pytest.raises(BrokerStartError, match="pip install"):
        EmbeddedBroker(log_dir=tmp_path).start()


def test_taken_port_is_reported(broker: EmbeddedBroker, tmp_path: Path) -> None:
    with pytest.raises(BrokerStartError, match="already in use"):
        EmbeddedBroker(broker.port, log_dir=tmp_path).start()


def test_broker_dies_with_a_kill_9_parent(tmp_path: Path) -> None:
    """PR_SET_PDEATHSIG: a crashed test run or worker must not leave an orphan broker."""
    script = (
        "import sys, time; from streams.embedded import EmbeddedBroker; "
        f"b = EmbeddedBroker(log_dir={str(tmp_path)!r}).start(); print(b.pid, flush=True); time.sleep(60)"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        broker_pid = int(parent.stdout.readline())
        assert not _process_gone(broker_pid)
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 5
    while not _process_gone(broker_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _process_gone(broker_pid)


def test_a_sealed_changelog_reports_its_true_end(broker: EmbeddedBroker) -> None:
    """Tansu ends a partition at 'first offset of the last batch + 1'; a one-record batch makes that true."""
    topic = f"test.endoffsets.{uuid.uuid4().hex[:8]}"
    ensure_topics(broker.bootstrap, specs=[TopicSpec(topic, "test", 1)])
    producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 50})
    for batch in (10, 7, 1, 5):
        for _ in range(batch):
            producer.produce(topic, value=b"x", partition=0)
        producer.flush(10)

    seal_changelog(broker.bootstrap, topic, 1)

    consumer = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "probe"})
    try:
        _low, end = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=5, cached=False)
    finally:
        consumer.close()
    assert end == 24  # 23 records and the marker


def test_another_command_finds_the_running_embedded_broker_and_not_a_stopped_one(tmp_path: Path) -> None:
    from streams.processes import BROKER_ADDRESS_FILE, NoRunningBroker, broker, running_broker
    from streams.settings import Settings

    settings = Settings(data_dir=tmp_path)
    with broker(settings) as bootstrap:
        assert running_broker(settings) == bootstrap
    with pytest.raises(NoRunningBroker, match="start `loyalty run` there first"):
        running_broker(settings)

    (tmp_path / BROKER_ADDRESS_FILE).write_text(bootstrap)  # left behind by an engine killed with kill -9
    with pytest.raises(NoRunningBroker, match=f"no broker answers at {bootstrap}"):
        running_broker(settings)
