"""The whole pipeline against its parts, measured in one run on this machine.

    python -m bench.pipeline [--members 5000] [--events 100000]

Prints one figure a line:

    consumer: N events/s            a bare confluent-kafka consumer reading the input topic
    processors: N events/s          the rules alone (decide) on the same events, one core
    pipeline: N events/s            input produced -> every outcome queryable in ClickHouse
    pipeline sustained: N events/s  the rate rows are stored at while the day flows, from a fifth of its
                                    activity rows stored to four fifths: the whole-day figure also counts
                                    the start and the drain at the end
    pipeline/consumer: N %
    latency reward p50|p99: N ms    event produced -> its ledger entry on Kafka, at half the pipeline rate
                                    (sent and watched from a process of its own)
    latency clickhouse p50|p99: N ms  event produced -> its ledger row queryable in ClickHouse (polled every 100 ms)
    cpu per event ROLE: N us        CPU each role's processes spent on the day per event (10,000 events/s
                                    on 2 cores leaves 200 us for all of them together)
    cpu at R events/s ROLE: N %     the same during the latency run, in % of one core (the machine has 200)

The engine runs with the settings' defaults (``LOYALTY_WORKERS=1 python -m
bench.pipeline`` measures one worker process, and so on). Compare ratios within
one run: the machine's load moves every figure.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import multiprocessing
import os
import resource
import tempfile
import threading
import time
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from statistics import quantiles
from typing import Any

from confluent_kafka import Consumer, Producer, TopicPartition

from bench.processors import processors_rate
from schemas.codec import AvroCodec
from schemas.registry import EmbeddedRegistry
from streams.demo import produce, stored_outcomes, wait_stored
from streams.demo_feed import synthetic_day
from streams.embedded import free_ports
from streams.kafka import consume_arrived, consumer_config, producer_config
from streams.offline import member_events
from streams.processes import broker, clickhouse, engine_processes, sink_thread
from streams.program_file import load_program
from streams.runtime import tune_gc
from streams.settings import Settings
from streams.topics import ACTIVITY, EVENTS, LEDGER, ensure_topics

PROBE_PREFIX = "latency-"  # every probe's event id, and so its order id, starts with this
# The probe sends what is due every 2 ms: each probe's latency counts from when it went out. Waking every
# 0.5 ms cost the probe ~18 % of a core against ~11 %, which the engine on this 2-core machine waited for.
PROBE_SEND_EVERY = 0.002


def consumer_rate(bootstrap: str, expected: int) -> float:
    """A bare consumer, no decoding: the ceiling any pipeline on this broker works under."""
    consumer = Consumer(consumer_config(bootstrap, f"bench-bare-{time.time_ns()}"))
    metadata = consumer.list_topics(EVENTS, timeout=10).topics[EVENTS]
    consumer.assign([TopicPartition(EVENTS, p, 0) for p in metadata.partitions])
    seen, started = 0, time.perf_counter()
    while seen < expected:
        seen += sum(1 for m in consumer.consume(10_000, 1.0) if m.error() is None)
    elapsed = time.perf_counter() - started
    consumer.close()
    return seen / elapsed


def cpu_seconds() -> dict[str, float]:
    """CPU time (user + system) so far of this process (the sink lives here) and of each child, by role."""
    ticks = os.sysconf("SC_CLK_TCK")
    usage = resource.getrusage(resource.RUSAGE_SELF)
    seconds = {"sink (in the bench's process, with its feed and ClickHouse polling)": usage.ru_utime + usage.ru_stime}
    children = []
    for task in Path("/proc/self/task").iterdir():
        with contextlib.suppress(FileNotFoundError):  # a thread that ended meanwhile
            children += Path(task, "children").read_text().split()
    for pid in children:
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        role = ("the bench's latency probe" if "multiprocessing" in command else "broker" if "broker" in command
                else "ingest" if "ingest" in command else "worker")
        seconds[role] = seconds.get(role, 0.0) + (int(fields[11]) + int(fields[12])) / ticks
    return seconds


class StoredRate:
    """Samples, in a thread, how many activity rows the sink has stored, to find the rate in mid-flow."""

    def __init__(self, sink: Any, every: float = 0.05) -> None:
        self._sink, self._every = sink, every
        self._samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.is_set():
            self._samples.append((time.perf_counter(), self._sink.loop.rows_stored[ACTIVITY]))
            time.sleep(self._every)

    def sustained(self, events_per_row: float) -> float:
        """Events a second between the samples at a fifth and at four fifths of the rows stored meanwhile."""
        self._stop.set()
        self._thread.join()
        first, last = self._samples[0][1], self._samples[-1][1]
        (t1, r1), (t2, r2) = (next(s for s in self._samples if s[1] - first >= (last - first) * share)
                              for share in (0.2, 0.8))
        return (r2 - r1) * events_per_row / (t2 - t1)


def percentile_ms(samples: list[float], q: int) -> float:
    return quantiles(samples, n=100, method="inclusive")[q - 1] * 1000


def send_and_watch(bootstrap: str, template: dict[str, Any], members: list[str], rate: float, seconds: float,
                   conn: Connection) -> None:
    """Send probe purchases at ``rate``, noting when each is sent and when its ledger entry is on Kafka.

    Runs in a process of its own: in the bench's process the sink's work would
    delay the moment an arrival is noted. Times are ``time.monotonic()``, which
    every process on the machine shares. Sends ``("started", monotonic, epoch)``
    when the first probe goes out, then ``("done", sent, on_kafka)``.
    """
    codec = AvroCodec(EmbeddedRegistry())
    watcher = Consumer(consumer_config(bootstrap, f"bench-ledger-{time.time_ns()}", **{"fetch.wait.max.ms": 5}))
    metadata = watcher.list_topics(LEDGER, timeout=10).topics[LEDGER]
    watcher.assign([TopicPartition(LEDGER, p, watcher.get_watermark_offsets(TopicPartition(LEDGER, p))[1])
                    for p in metadata.partitions])
    on_kafka: dict[str, float] = {}
    stop = threading.Event()
    marker = PROBE_PREFIX.encode()

    def watch() -> None:
        while not stop.is_set():
            for message in consume_arrived(watcher, 1000, 0.05):
                # Most entries are the engine's other work: only a probe's is worth decoding, on this machine.
                if message.error() is None and marker in message.value():
                    event_id = codec.decode(message.value())["event_id"]
                    if event_id.startswith(PROBE_PREFIX):
                        on_kafka.setdefault(event_id, time.monotonic())

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    producer = Producer(producer_config(bootstrap))
    # A new idempotent producer first asks the broker for its id (~0.5 s): do that before the clock starts,
    # with an event the engine has applied already (a duplicate, which changes nothing).
    producer.produce(EVENTS, codec.encode(EVENTS, "LoyaltyEvent", template), template["source"].encode())
    producer.flush()
    total, key = int(rate * seconds), template["source"].encode()
    epoch = time.time() + 2  # the probes are encoded before the clock starts, dated when they are due
    probes = [codec.encode(EVENTS, "LoyaltyEvent", probe_event(template, members, n, epoch + n / rate))
              for n in range(total)]
    time.sleep(max(0.0, epoch - time.time()))
    started = time.monotonic()
    conn.send(("started", started, epoch))
    sent: dict[str, float] = {}
    n = 0
    while n < total:
        now = time.monotonic()
        due = min(total, int((now - started) * rate) + 1)  # every probe due by now goes out
        while n < due:
            producer.produce(EVENTS, probes[n], key)
            sent[probe_id(n)] = now
            n += 1
        producer.poll(0)
        time.sleep(PROBE_SEND_EVERY)
    producer.flush()
    wait_until_all(on_kafka, total)
    stop.set()
    thread.join()
    watcher.close()
    conn.send(("done", sent, on_kafka))


def wait_until_all(seen: dict[str, float], total: int, seconds: float = 30) -> None:
    """Wait until a watcher thread has seen ``total`` probes, or ``seconds`` have passed."""
    deadline = time.monotonic() + seconds
    while len(seen) < total and time.monotonic() < deadline:
        time.sleep(0.05)


def probe_id(n: int) -> str:
    return f"{PROBE_PREFIX}{n}"


def receive(receiver: Connection, what: str, seconds: float = 120) -> Any:
    """The probe's next message; it should ``what`` within ``seconds``."""
    if not receiver.poll(seconds):
        raise RuntimeError(f"the latency probe did not {what} within {seconds:.0f} s")
    return receiver.recv()


def probe_event(template: dict[str, Any], members: list[str], n: int, epoch: float) -> dict[str, Any]:
    """Probe purchase ``n``: the template's order, for one of ``members`` in turn, occurring at ``epoch``."""
    event_id = probe_id(n)
    body = (template["body"][0], {**template["body"][1], "order_id": event_id})
    return {**template, "event_id": event_id, "occurred_at": datetime.fromtimestamp(epoch, UTC),
            "member_id": members[n % len(members)], "body": body}


def paced_latency(bootstrap: str, store: Any, template: dict[str, Any], members: list[str],
                  rate: float, seconds: float) -> tuple[list[float], list[float], dict[str, float]]:
    """Send purchases at ``rate``; time each to its ledger entry on Kafka and its row in ClickHouse.

    Also returns each role's CPU while sending, in % of one core.
    """
    context = multiprocessing.get_context("spawn")  # not fork: this process runs threads
    receiver, conn = context.Pipe(duplex=False)
    prober = context.Process(target=send_and_watch, args=(bootstrap, template, members, rate, seconds, conn),
                             daemon=True)
    prober.start()
    _, started, epoch = receive(receiver, "start sending")
    cpu_before, total = cpu_seconds(), int(rate * seconds)
    in_clickhouse: dict[str, float] = {}
    stop = threading.Event()

    def poll_clickhouse() -> None:
        # Only rows from the oldest probe not seen yet on: reading every probe row back on every poll would
        # cost this process (the sink's) more and more time as they pile up, and slow the sink down. Even so a
        # poll scans the day's ledger (~6 ms of CPU for 200,000 rows): every 100 ms keeps that to a few % of a
        # core, at the price of noting a row up to 100 ms late, against a target of 1.5 s.
        oldest = 0
        while not stop.is_set():
            while oldest < total and probe_id(oldest) in in_clickhouse:
                oldest += 1
            if oldest < total:
                rows = store.rows("SELECT event_id FROM $db.ledger WHERE occurred_at >= {since:DateTime64(3)} "
                                  f"AND event_id LIKE '{PROBE_PREFIX}%'",
                                  {"since": datetime.fromtimestamp(epoch + oldest / rate, UTC)})
                now = time.monotonic()
                for row in rows:
                    in_clickhouse.setdefault(row["event_id"], now)
            time.sleep(0.1)

    thread = threading.Thread(target=poll_clickhouse, daemon=True)
    thread.start()
    time.sleep(max(0.0, started + seconds - time.monotonic()))
    elapsed = time.monotonic() - started
    cpu = {role: 100 * (spent - cpu_before.get(role, 0.0)) / elapsed for role, spent in cpu_seconds().items()}
    _, sent, on_kafka = receive(receiver, "report")
    prober.join()
    wait_until_all(in_clickhouse, total)
    stop.set()
    thread.join()
    kafka = [on_kafka[e] - sent[e] for e in sent if e in on_kafka]
    stored = [in_clickhouse[e] - sent[e] for e in sent if e in in_clickhouse]
    return kafka, stored, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=5_000)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--latency-seconds", type=float, default=10)
    parser.add_argument("--latency-rate", type=float, help="probe events/s (default: half the pipeline)")
    args = parser.parse_args()
    tune_gc()  # as in `loyalty run`, whose process hosts the ClickHouse sink as this one does

    codec = AvroCodec(EmbeddedRegistry())
    feed = synthetic_day(args.members, args.events)
    program = load_program(None)
    events = member_events(codec, feed.base + feed.day)
    print(f"processors: {processors_rate(events, program):.0f} events/s", flush=True)

    data_dir = Path(tempfile.mkdtemp(prefix="loyalty-bench-"))
    settings = Settings(data_dir=data_dir, clickhouse_database="bench")
    settings = settings.model_copy(update={"worker_web_port": free_ports(settings.workers)})
    with broker(settings) as bootstrap:
        ensure_topics(bootstrap, settings.partitions)
        store = clickhouse(settings)
        with sink_thread(settings, bootstrap, store) as sink, engine_processes(settings, bootstrap) as running:
            produce(bootstrap, codec, feed.base, lambda n: None)
            # Warm up: the worker is up and every member is known before the clock starts.
            wait_stored(store, len(feed.base), sink, running, 300, lambda n: None)
            # The input is encoded before the clock starts: its producer is the retailer's, not the engine.
            day = [(key, value if isinstance(value, bytes) else codec.encode(EVENTS, "LoyaltyEvent", value))
                   for key, value in feed.day]
            gc.freeze()  # the feed lives until the end: collections in the sink's process need not rescan it
            started, cpu_before, rows_before = time.perf_counter(), cpu_seconds(), sink.loop.rows_stored[ACTIVITY]
            stored_rate = StoredRate(sink)
            produce(bootstrap, codec, day, lambda n: None)
            wait_stored(store, feed.expected_outcomes(), sink, running, 900, lambda n: None)
            pipeline = len(feed.day) / (time.perf_counter() - started)
            # The day's activity rows include the engine's own follow-up events': count events, not rows.
            sustained = stored_rate.sustained(len(feed.day) / (sink.loop.rows_stored[ACTIVITY] - rows_before))
            for role, spent in cpu_seconds().items():
                print(f"cpu per event {role}: {(spent - cpu_before.get(role, 0.0)) / len(day) * 1e6:.0f} us",
                      flush=True)
            consumer = consumer_rate(bootstrap, len(feed.base) + len(feed.day))
            print(f"consumer: {consumer:.0f} events/s", flush=True)
            print(f"pipeline: {pipeline:.0f} events/s", flush=True)
            print(f"pipeline sustained: {sustained:.0f} events/s", flush=True)
            print(f"pipeline/consumer: {100 * pipeline / consumer:.1f} %", flush=True)
            template = next(v for _, v in feed.day if isinstance(v, dict) and v["event_id"].startswith("order-"))
            members = sorted({v["member_id"] for _, v in feed.base if isinstance(v, dict)})
            rate = args.latency_rate or pipeline / 2
            kafka, stored, cpu = paced_latency(bootstrap, store, template, members, rate, args.latency_seconds)
            for role, share in cpu.items():
                print(f"cpu at {rate:.0f} events/s {role}: {share:.0f} % of a core", flush=True)
            for name, samples in (("reward", kafka), ("clickhouse", stored)):
                if len(samples) < 2:
                    print(f"latency {name}: too few samples ({len(samples)})")
                    continue
                print(f"latency {name} p50: {percentile_ms(samples, 50):.0f} ms", flush=True)
                print(f"latency {name} p99: {percentile_ms(samples, 99):.0f} ms", flush=True)
            print(f"outcomes stored: {stored_outcomes(store)}")


if __name__ == "__main__":
    main()
