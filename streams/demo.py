"""The demo and the long-running engine: the pieces started together, fed, measured, stopped."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import Producer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from schemas.codec import AvroCodec
from schemas.registry import registry_for
from sinks import queries
from sinks.clickhouse import ClickHouseStore
from streams.demo_feed import synthetic_day
from streams.kafka import DeliveryErrors, producer_config
from streams.processes import RunningSink, broker, clickhouse, engine_processes, sink_thread
from streams.program_file import load_program
from streams.settings import Settings
from streams.topics import EVENTS, ensure_topics

Message = tuple[bytes, dict[str, Any] | bytes]


def _progress(console: Console) -> Progress:
    return Progress(TextColumn("{task.description:<22}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), console=console)


def produce(bootstrap: str, codec: AvroCodec, messages: list[Message], step: Callable[[int], None]) -> None:
    """Send input events in the Confluent wire format (raw bytes are sent as they are)."""
    errors = DeliveryErrors()
    producer = Producer(producer_config(bootstrap))
    for n, (key, value) in enumerate(messages, 1):
        data = value if isinstance(value, bytes) else codec.encode(EVENTS, "LoyaltyEvent", value)
        while True:
            try:
                producer.produce(EVENTS, data, key, on_delivery=errors)
                break
            except BufferError:
                producer.poll(0.05)
        if n % 5000 == 0:
            producer.poll(0)
            step(5000)
    producer.flush()
    errors.raise_if_any()
    step(len(messages) % 5000)


def stored_outcomes(store: ClickHouseStore) -> int:
    """Input events that are accepted or dead-lettered in ClickHouse: each ends as exactly one."""
    return int(store.scalar(
        "SELECT (SELECT uniqExact(event_id) FROM $db.activity)"
        " + (SELECT uniqExact(dead_letter_id) FROM $db.dead_letters)"
    ))


def wait_stored(store: ClickHouseStore, expected: int, sink: RunningSink, engine_alive: Callable[[], bool],
                timeout: float, step: Callable[[int], None]) -> None:
    deadline, seen = time.monotonic() + timeout, 0
    while True:
        if sink.error:
            raise RuntimeError(f"the ClickHouse sink stopped: {sink.error[0]!r}")
        if not engine_alive():
            raise RuntimeError("the ingest or worker process stopped: see logs/ in the data directory")
        now = stored_outcomes(store)
        step(now - seen)
        seen = now
        if now >= expected:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{expected - now} of {expected} events not stored after {timeout:.0f} s; "
                               "see logs/ in the data directory")
        time.sleep(0.2)


def run_demo(settings: Settings, *, members: int, events: int, seed: int, timeout: float,
             console: Console) -> dict[str, Any]:
    program = load_program(settings.program_file)
    codec = AvroCodec(registry_for(settings.schema_registry_url))
    console.print(f"Building a synthetic day: {members:,} members, {events:,} events ...")
    feed = synthetic_day(members, events, seed)
    with broker(settings) as bootstrap:
        ensure_topics(bootstrap, settings.partitions)
        store = clickhouse(settings)
        with sink_thread(settings, bootstrap, store) as sink, engine_processes(settings, bootstrap) as engine:
            started = time.monotonic()
            with _progress(console) as progress:
                for label, part, expected in (
                    ("member base", feed.base, len(feed.base)),
                    ("the day", feed.day, feed.expected_outcomes()),
                ):
                    sent = progress.add_task(f"{label}: sent", total=len(part), rate="")
                    done = progress.add_task(f"{label}: stored", total=expected - progress_total(progress),
                                             rate="")
                    produce(bootstrap, codec, part, lambda n, t=sent: progress.advance(t, n))
                    wait_stored(store, expected, sink, engine.alive, timeout,
                                lambda n, t=done: progress.advance(t, n))
            elapsed = time.monotonic() - started
        base_tier = program.tiers[0].name
        summary = queries.program_summary(store, base_tier)
        return {
            "events fed": f"{len(feed.base) + len(feed.day):,} ({feed.duplicates} resent duplicates)",
            "elapsed": f"{elapsed:.1f} s",
            "throughput": f"{(len(feed.base) + len(feed.day)) / elapsed:,.0f} events/s, fed to stored",
            **summary,
            "average order value by channel": queries.average_order_value(store),
            "repeat-purchase rate": queries.repeat_purchase_rate(store),
            "top categories by spend": queries.top_categories(store, limit=3),
        }


def progress_total(progress: Progress) -> int:
    """Outcomes already counted by earlier 'stored' bars, so each bar counts only its phase."""
    return int(sum(task.completed for task in progress.tasks if task.description.endswith("stored")))


def run_engine(settings: Settings, console: Console) -> None:
    with broker(settings) as bootstrap:
        ensure_topics(bootstrap, settings.partitions)
        store = clickhouse(settings)
        with sink_thread(settings, bootstrap, store) as sink, engine_processes(settings, bootstrap) as engine:
            console.print(f"Engine running: broker {bootstrap}, ClickHouse {settings.resolved_clickhouse_dsn()}, "
                          f"send LoyaltyEvent Avro to {EVENTS}. Ctrl-C stops.")
            try:
                while engine.alive() and not sink.error:
                    time.sleep(1)
            except KeyboardInterrupt:
                console.print("Stopping ...")
                return
            if sink.error:
                raise RuntimeError(f"the ClickHouse sink stopped: {sink.error[0]!r}")
            raise RuntimeError("the ingest or worker process stopped: see logs/ in the data directory")
