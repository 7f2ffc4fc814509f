"""The demo and the long-running engine: the pieces started together, fed, measured, stopped."""

from __future__ import annotations

import contextlib
import gc
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import Producer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from processors.compiled import compiled
from processors.outputs import FOLLOW_UP_SUFFIXES
from processors.program import Program
from schemas.codec import AvroCodec
from schemas.registry import registry_for
from sinks.clickhouse import STORE_ERRORS, ClickHouseStore, error_summary, location
from streams.clock_ticks import TICKS_RECORD, DailyTicks, enrolled_members, tick_events
from streams.demo_feed import synthetic_day
from streams.engine_lock import LOCK_FILE, clear_data_directory, engine_lock
from streams.kafka import DeliveryErrors, produce_waiting, producer_config
from streams.processes import (
    EngineProcesses,
    EngineStopped,
    RunningSink,
    broker,
    check_ports_free,
    clickhouse,
    engine_processes,
    sink_thread,
)
from streams.refusal_catch_up import LOOK_ERRORS, RefusalCatchUp
from streams.reports import kpi_figures, kpi_lines, serving_reports
from streams.settings import Settings
from streams.status import status_server
from streams.topics import ACTIVITY, DEADLETTER, ENGINE_EVENTS, EVENTS, ensure_topics

Message = tuple[bytes, dict[str, Any] | bytes]

DEMO_DIR = "demo"  # in the data directory
DEMO_MARK = ".made-by-loyalty-demo"


class DemoDirectoryTaken(RuntimeError):
    """The demo's folder in the data directory holds something the demo did not make."""


@contextlib.contextmanager
def demo_data_directory(settings: Settings) -> Iterator[Settings]:
    """``settings`` with the demo's own data directory, ``demo/`` in the configured one, made fresh.

    The demo starts from nothing each time, but deletes only what an earlier demo made (its
    folder carries a mark): an engine's data beside it, and anything else, stays as it is.
    It holds both directories while it runs, so no engine starts on either meanwhile.
    """
    folder = settings.data_dir / DEMO_DIR
    with engine_lock(settings.data_dir):
        if folder.exists() and not (folder / DEMO_MARK).is_file() and (
                not folder.is_dir() or any(path.name != LOCK_FILE for path in folder.iterdir())):
            raise DemoDirectoryTaken(f"{folder.resolve()} is where the demo keeps its data, but it holds something "
                                     "the demo did not make: move it away, or set LOYALTY_DATA_DIR to another "
                                     "directory")
        with engine_lock(folder):
            clear_data_directory(folder)
            (folder / DEMO_MARK).touch()
            yield settings.model_copy(update={"data_dir": folder})


def progress_bars(console: Console) -> Progress:
    return Progress(TextColumn("{task.description:<28}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console)


def produce(bootstrap: str, codec: AvroCodec, messages: Iterable[Message], step: Callable[[int], None],
            topic: str = EVENTS) -> None:
    """Send input events to ``topic`` in the Confluent wire format (raw bytes are sent as they are)."""
    errors = DeliveryErrors()
    producer = Producer(producer_config(bootstrap))
    n = 0
    try:
        for n, (key, value) in enumerate(messages, 1):
            data = value if isinstance(value, bytes) else codec.encode(topic, "LoyaltyEvent", value)
            produce_waiting(producer, topic, data, key, on_delivery=errors)
            if n % 5000 == 0:
                producer.poll(0)
                step(5000)
    finally:  # what was handed over before a failure is sent, not dropped with the client
        producer.flush()
    errors.raise_if_any()
    step(n % 5000)


def stored_outcomes(store: ClickHouseStore) -> int:
    """Input events that are accepted or dead-lettered in ClickHouse: each ends as exactly one.

    The engine's own follow-up events (referrals, campaign budgets) are not input and not counted.
    """
    own = f"({'|'.join(FOLLOW_UP_SUFFIXES)})$"
    return int(store.scalar(
        "SELECT (SELECT uniqExact(event_id) FROM $db.activity WHERE NOT match(event_id, {own:String}))"
        " + (SELECT uniqExactIf(dead_letter_id, NOT match(ifNull(event_id, ''), {own:String})) FROM $db.dead_letters)",
        {"own": own},
    ))


SINK_QUIET_SECONDS = 0.5
# Counting in ClickHouse takes a while as the tables grow, and embedded ClickHouse serves one query at a time: polled
# every 0.2 s, the count took a quarter of the benchmark process's samples (py-spy), and the sink's inserts waited.
COUNT_EVERY_SECONDS = 2.0


def wait_stored(store: ClickHouseStore, expected: int, sink: RunningSink, engine: EngineProcesses,
                timeout: float, stored: Callable[[int], None]) -> None:
    """Wait until ``expected`` input events are stored, telling ``stored`` the count as it grows.

    An event's rows reach the sink on several topics, each in its own time, so
    its activity row can be stored before its ledger entry: once the count is
    reached, this also waits until the sink has had nothing to store for a while.
    ClickHouse counts only when the activity rows and dead letters the sink has
    stored since the last count could make up the rest (they include the engine's
    own events, so they can only overestimate), or every ``COUNT_EVERY_SECONDS``.
    """
    deadline = time.monotonic() + timeout
    counted_at, counted, rows_then = 0.0, 0, 0
    while True:
        if sink.error:
            raise EngineStopped(f"the ClickHouse sink stopped: {sink.error[0]!r}")
        if not engine.alive():
            raise engine.stopped()
        rows = sink.loop.rows_stored[ACTIVITY] + sink.loop.rows_stored[DEADLETTER]
        estimate = counted + rows - rows_then
        if estimate >= expected or time.monotonic() - counted_at >= COUNT_EVERY_SECONDS:
            counted, counted_at, rows_then = stored_outcomes(store), time.monotonic(), rows
            estimate = counted
        stored(min(estimate, expected))
        if counted >= expected and sink.loop.idle_seconds() >= SINK_QUIET_SECONDS:
            return
        if time.monotonic() > deadline:
            why = f"the sink is {sink.loop.outage}" if sink.loop.outage else "see logs/ in the data directory"
            raise TimeoutError(f"{expected - counted} of {expected} events not stored after {timeout:.0f} s; {why}")
        time.sleep(0.2)


def run_demo(settings: Settings, program: Program, *, members: int, events: int, seed: int, timeout: float,
             console: Console) -> dict[str, Any]:
    """The demo's day through ``program`` (the workers read it from ``settings`` too: it must be that file's)."""
    check_ports_free(settings, status=False)
    codec = AvroCodec(registry_for(settings.schema_registry_url))
    console.print(f"Building a synthetic day: {members:,} members, {events:,} events ...")
    feed = synthetic_day(members, events, seed)
    gc.freeze()  # the feed lives until the end: collections in the sink's process need not rescan it
    with broker(settings, keep_topics=True) as bootstrap:
        ensure_topics(bootstrap, settings.partitions)
        store = clickhouse(settings)
        with sink_thread(settings, bootstrap, store) as sink, engine_processes(settings, bootstrap) as engine:
            started = time.monotonic()
            with progress_bars(console) as progress:
                sent = progress.add_task("events sent to Kafka", total=len(feed.base) + len(feed.day))
                done = progress.add_task("processed and in ClickHouse", total=feed.expected_outcomes())
                # The member base first, as a retailer going live sends it: the day's events need their members.
                for part, expected in ((feed.base, len(feed.base)), (feed.day, feed.expected_outcomes())):
                    produce(bootstrap, codec, part, lambda n: progress.advance(sent, n))
                    wait_stored(store, expected, sink, engine, timeout,
                                lambda n: progress.update(done, completed=n))
            elapsed = time.monotonic() - started
        return summary_lines(store, program, len(feed.base) + len(feed.day), feed.duplicates, elapsed)


def summary_lines(store: ClickHouseStore, program: Program, fed: int, duplicates: int,
                  elapsed: float) -> dict[str, str]:
    """The demo's closing figures, every one answered by ClickHouse, in words."""
    return {
        "events fed": f"{fed:,} ({duplicates:,} of them resent duplicates)",
        "throughput": f"{fed / elapsed:,.0f} events/s, from first sent to all stored ({elapsed:.1f} s)",
        **kpi_lines(kpi_figures(store, program), program),
    }


def run_engine(settings: Settings, program: Program, console: Console, stopping: threading.Event) -> None:
    """Run ``program`` (which the workers read from ``settings`` too) until ``stopping`` is set (or a
    KeyboardInterrupt comes), or a part of the engine stops."""
    check_ports_free(settings)
    with broker(settings, keep_topics=True) as bootstrap:
        ensure_topics(bootstrap, settings.partitions)
        store, where = clickhouse(settings, later=True), location(settings.resolved_clickhouse_dsn())
        try:
            store.ensure_schema()
        except STORE_ERRORS as exc:  # points, rewards and triggers need no ClickHouse: the sink waits for it
            console.print(f"ClickHouse at {where} does not answer yet ({error_summary(exc)}): the engine runs "
                          "without it, and its rows are stored once it answers.")
        with (sink_thread(settings, bootstrap, store) as sink, engine_processes(settings, bootstrap) as engine,
              status_server(settings, engine, sink) as status,
              serving_reports(settings, store, program) as reports):
            served = f", health and metrics on http://{settings.status_host}:{settings.status_port}/" if status else ""
            asked = ", `loyalty member`, `kpis` and `deadletters` answered from here" if reports else ""
            console.print(f"Engine running: broker {bootstrap}, ClickHouse {where}{served}{asked}; send "
                          f"LoyaltyEvent Avro to {EVENTS}, or `loyalty feed FILE`. Ctrl-C stops.")
            zone = compiled(program).zone
            ticks = DailyTicks(settings.tick_hour, settings.data_dir / TICKS_RECORD, zone)
            codec = AvroCodec(registry_for(settings.schema_registry_url))
            catch_up = RefusalCatchUp(bootstrap, codec, store)
            try:
                while engine.alive() and not sink.error and not stopping.is_set():
                    now = datetime.now(UTC)
                    for at in ticks.due(now):
                        try:
                            members = enrolled_members(store)
                        except STORE_ERRORS as exc:
                            ticks.failed(now)
                            console.print(f"{now:%Y-%m-%d %H:%M} UTC: no clock ticks yet, ClickHouse did not say "
                                          f"who the members are ({error_summary(exc)}); trying again in a minute")
                            break
                        produce(bootstrap, codec, tick_events(members, at, zone), lambda n: None, ENGINE_EVENTS)
                        ticks.sent(at)
                        day = at.astimezone(zone)
                        console.print(f"{now:%Y-%m-%d %H:%M} UTC: clock ticks of {day:%Y-%m-%d} sent to "
                                      f"{len(members):,} members")
                    try:
                        sent = catch_up.look(sink.loop.rows_stored[DEADLETTER], time.monotonic())
                    except LOOK_ERRORS:
                        sent = Counter()  # ClickHouse or the broker is away (/health says so): it looks again soon
                    for waited_for, count in sent.items():
                        console.print(f"{now:%Y-%m-%d %H:%M} UTC: {count:,} event{'s' if count != 1 else ''} that "
                                      f"came before {waited_for} sent again, now that it is applied")
                    stopping.wait(1)
            except KeyboardInterrupt:
                stopping.set()
            if stopping.is_set():
                console.print("Stopping ...")
                return
            if sink.error:
                raise EngineStopped(f"the ClickHouse sink stopped: {sink.error[0]!r}")
            raise engine.stopped()
