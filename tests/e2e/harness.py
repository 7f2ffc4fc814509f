"""Running the real engine in a test: a broker (Tansu or Apache Kafka), Faust worker process, sink thread, chDB."""

from __future__ import annotations

import contextlib
import json
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from brokers import started_broker

from schemas.codec import AvroCodec
from schemas.registry import EmbeddedRegistry
from sinks.clickhouse import ClickHouseStore
from streams.embedded import free_ports
from streams.processes import RunningSink, sink_thread
from streams.settings import Settings
from streams.topics import ensure_topics

PROGRAM = """
name: Test Fashion
currency: SEK
earn: {points: 1, per_amount_minor: 1000}
category_multipliers_bp: {shoes: 15000}
excluded_categories: [gift_card]
welcome_bonus_points: 100
tiers:
  - {name: Silver, qualifying_spend_minor: 0}
  - {name: Gold, qualifying_spend_minor: 500000, earn_multiplier_bp: 12500}
"""


@dataclass
class Engine:
    settings: Settings
    bootstrap: str
    store: ClickHouseStore
    sink: RunningSink
    codec: AvroCodec


@contextlib.contextmanager
def engine(tmp_path: Path, chdb_client: Any, database: str, program: str = PROGRAM,
           broker: str = "tansu", workers: int = 1) -> Iterator[Engine]:
    """Broker (``tansu`` or ``kafka``, see ``brokers``), topics, ClickHouse schema and sink; the test starts
    the ``workers`` itself."""
    program_file = tmp_path / "program.yaml"
    program_file.write_text(program)
    settings = Settings(data_dir=tmp_path / "data", program_file=program_file, worker_web_port=free_ports(workers),
                        workers=workers, partitions=4, clickhouse_database=database, sink_flush_ms=100,
                        card_wait_seconds=3, max_future_days=30)  # some tests date events days ahead
    with started_broker(broker, tmp_path / broker) as bootstrap:
        ensure_topics(bootstrap, settings.partitions)
        store = ClickHouseStore(chdb_client, database)
        store.ensure_schema()
        with sink_thread(settings, bootstrap, store) as sink:
            yield Engine(settings, bootstrap, store, sink, AvroCodec(EmbeddedRegistry()))


def workers_counts(settings: Settings) -> list[dict[str, int]]:
    """Each running worker's counts (its progress page): batches and events applied, duplicates, ..."""
    counts = []
    for index in range(settings.workers):
        url = f"http://127.0.0.1:{settings.worker_web_port_of(index)}/progress/"
        with urllib.request.urlopen(url, timeout=5) as response:
            counts.append(json.load(response))
    return counts
