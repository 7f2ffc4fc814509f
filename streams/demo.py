"""The demo and the long-running engine: the pieces started together, fed, measured, stopped."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import Producer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from processors.money import format_money
from processors.outputs import FOLLOW_UP_SUFFIXES
from schemas.codec import AvroCodec
from schemas.registry import registry_for
from sinks import queries
from sinks.clickhouse import ClickHouseStore
from streams.clock_ticks import DailyTicks, enrolled_members, tick_events
from streams.demo_feed import synthetic_day
from streams.kafka import DeliveryErrors, produce_waiting, producer_config
from streams.processes import RunningSink, broker, clickhouse, engine_processes, sink_thread
from streams.program_file import load_program
from streams.settings import Settings
from streams.status import status_server
from streams.topics import ENGINE_EVENTS, EVENTS, ensure_topics

Message = tuple[bytes, dict[str, Any] | bytes]


def progress_bars(console: Console) -> Progress:
    return Progress(TextColumn("{task.description:<28}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console)


def produce(bootstrap: str, codec: AvroCodec, messages: Iterable[Message], step: Callable[[int], None],
            topic: str = EVENTS) -> None:
    """Send input events to ``topic`` in the Confluent wire format (raw bytes are sent as they are)."""
    errors = DeliveryErrors()
    producer = Producer(producer_config(bootstrap))
    n = 0
    for n, (key, value) in enumerate(messages, 1):
        data = value if isinstance(value, bytes) else codec.encode(topic, "LoyaltyEvent", value)
        produce_waiting(producer, topic, data, key, on_delivery=errors)
        if n % 5000 == 0:
            producer.poll(0)
            step(5000)
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


def wait_stored(store: ClickHouseStore, expected: int, sink: RunningSink, engine_alive: Callable[[], bool],
                timeout: float, stored: Callable[[int], None]) -> None:
    """Wait until ``expected`` input events are stored, telling ``stored`` the count as it grows.

    An event's rows reach the sink on several topics, each in its own time, so
    its activity row can be stored before its ledger entry: once the count is
    reached, this also waits until the sink has had nothing to store for a while.
    """
    deadline = time.monotonic() + timeout
    while True:
        if sink.error:
            raise RuntimeError(f"the ClickHouse sink stopped: {sink.error[0]!r}")
        if not engine_alive():
            raise RuntimeError("the ingest or worker process stopped: see logs/ in the data directory")
        now = stored_outcomes(store)
        stored(now)
        if now >= expected and sink.loop.idle_seconds() >= SINK_QUIET_SECONDS:
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
    gc.freeze()  # the feed lives until the end: collections in the sink's process need not rescan it
    with broker(settings) as bootstrap:
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
                    wait_stored(store, expected, sink, engine.alive, timeout,
                                lambda n: progress.update(done, completed=n))
            elapsed = time.monotonic() - started
        return summary_lines(store, program.tiers[0].name, len(feed.base) + len(feed.day), feed.duplicates, elapsed)


def summary_lines(store: ClickHouseStore, base_tier: str, fed: int, duplicates: int,
                  elapsed: float) -> dict[str, str]:
    """The demo's closing figures, every one answered by ClickHouse, in words."""
    return {
        "events fed": f"{fed:,} ({duplicates:,} of them resent duplicates)",
        "throughput": f"{fed / elapsed:,.0f} events/s, from first sent to all stored ({elapsed:.1f} s)",
        **kpi_lines(store, base_tier),
    }


def kpi_time(store: ClickHouseStore, as_of: datetime | None) -> datetime:
    """``as_of``, else the latest event's time (so a replayed history reads as it was), else now."""
    return as_of or queries.latest_event_time(store) or datetime.now(UTC)


def kpi_lines(store: ClickHouseStore, base_tier: str, as_of: datetime | None = None,
              period_days: int = 90) -> dict[str, str]:
    """The program's KPIs in words, as of ``as_of`` (default: see ``kpi_time``), each from ClickHouse."""
    as_of = kpi_time(store, as_of)
    program = queries.program_summary(store, base_tier)
    tiers = ", ".join(f"{tier} {count:,}" for tier, count in sorted(program["members_per_tier"].items()))
    aov = "; ".join(f"{row['channel']} {format_money(row['aov_minor'], row['currency'])} ({row['orders']:,} orders)"
                    for row in queries.average_order_value(store))
    repeat = queries.repeat_purchase_rate(store)
    top = "; ".join(f"{row['category']} {format_money(row['spend_minor'], row['currency'])}"
                    for row in queries.top_categories(store, limit=3))
    churn = queries.churn(store, as_of, period_days)
    risk = queries.churn_risk(store, as_of, period_days)
    value = "; ".join(_customer_value(row, period_days)
                      for row in queries.customer_value(store, as_of, churn, period_days))
    redeemed = queries.redemption_rate(store, as_of)
    visits = queries.visit_frequency(store, as_of, period_days)
    nps = queries.net_promoter_score(store, as_of, period_days)
    return {
        "members": f"{program['members']:,}",
        "points issued": f"{program['points_issued']:,}",
        "points outstanding (liability)": f"{program['points_outstanding']:,}",
        "members per tier": tiers,
        "dead letters": f"{program['dead_letters']:,}",
        "KPI: average order value": aov,
        "KPI: repeat-purchase rate": f"{percent(repeat['rate_bp'])} of {repeat['buyers']:,} buyers",
        "KPI: top categories by net spend": top,
        f"KPI: churn ({period_days} days)": (
            f"{percent(churn['churn_rate_bp'])} of the {churn['cohort']:,} who bought in the {period_days} days "
            f"before the last {period_days} did not buy again (retention {percent(churn['retention_rate_bp'])})"
            if churn["cohort"] else f"nobody bought in the {period_days} days before the last {period_days} yet"),
        "KPI: churn risk": ", ".join(f"{level.replace('_', ' ')} {count:,}" for level, count in risk.items()),
        "KPI: customer value (CLV)": value or "no purchases yet",
        "KPI: redemption rate": (f"{percent(redeemed['redemption_rate_bp'])} of "
                                 f"{redeemed['points_earned']:,} points earned"),
        "KPI: visit frequency": _visits(visits, period_days),
        "KPI: Net Promoter Score": (
            f"{signed(nps['nps_bp'])} from {nps['respondents']:,} members' answers in the last {period_days} days "
            f"({nps['promoters']:,} promoters, {nps['passives']:,} passives, {nps['detractors']:,} detractors)"
            if nps["respondents"] else f"no survey answers in the last {period_days} days"),
        "as of": f"{as_of:%Y-%m-%d %H:%M} UTC",
    }


def _customer_value(row: dict[str, Any], period_days: int) -> str:
    currency, projected = row["currency"], row["projected_value_minor"]
    words = (f"{format_money(row['value_so_far_minor'], currency)} a buyer so far, "
             f"{format_money(row['period_value_minor'], currency)} in the last {period_days} days")
    return words + (f", {format_money(projected, currency)} projected" if projected is not None else "")


def _visits(visits: dict[str, Any], period_days: int) -> str:
    if not visits["buyers"]:
        return f"nobody bought in the last {period_days} days"
    tenths = visits["purchases"] * 10 // visits["buyers"]
    gap = visits["median_gap_days"]
    return (f"{tenths // 10}.{tenths % 10} purchases a buyer in the last {period_days} days "
            f"({visits['buyers']:,} buyers)" + (f"; {gap} days between purchases (median)" if gap is not None else ""))


def percent(basis_points: int) -> str:
    return f"{basis_points // 100}.{basis_points % 100:02d} %"


def signed(basis_points: int) -> str:
    """A score in basis points, e.g. an NPS of 4,250 bp as +42.50 (rounded toward zero, as computed)."""
    size = abs(basis_points)
    return f"{'-' if basis_points < 0 else '+'}{size // 100}.{size % 100:02d}"


def run_engine(settings: Settings, console: Console) -> None:
    with broker(settings) as bootstrap:
        ensure_topics(bootstrap, settings.partitions)
        store = clickhouse(settings)
        with (sink_thread(settings, bootstrap, store) as sink, engine_processes(settings, bootstrap) as engine,
              status_server(settings, engine, sink) as status):
            served = f", health and metrics on http://{settings.status_host}:{settings.status_port}/" if status else ""
            console.print(f"Engine running: broker {bootstrap}, ClickHouse {settings.resolved_clickhouse_dsn()}"
                          f"{served}; send LoyaltyEvent Avro to {EVENTS}, or `loyalty feed FILE`. Ctrl-C stops.")
            ticks, codec = DailyTicks(settings.tick_hour_utc), AvroCodec(registry_for(settings.schema_registry_url))
            try:
                while engine.alive() and not sink.error:
                    now = datetime.now(UTC)
                    if ticks.due(now):
                        members = enrolled_members(store)
                        produce(bootstrap, codec, tick_events(members, now), lambda n: None, ENGINE_EVENTS)
                        console.print(f"{now:%Y-%m-%d %H:%M} UTC: clock ticks sent to {len(members):,} members")
                    time.sleep(1)
            except KeyboardInterrupt:
                console.print("Stopping ...")
                return
            if sink.error:
                raise RuntimeError(f"the ClickHouse sink stopped: {sink.error[0]!r}")
            raise RuntimeError("the ingest or worker process stopped: see logs/ in the data directory")
