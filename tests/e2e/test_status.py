"""/health and /metrics of a running engine: real worker and sink counts, a ClickHouse outage, a failing part."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from streams.demo import produce, wait_stored
from streams.embedded import free_ports
from streams.processes import engine_processes
from streams.status import status_server

from .harness import engine
from .test_purchase_to_clickhouse import enrol, event, purchase

DEPLOY = Path(__file__).parents[2] / "deploy"


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def wait_until(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_health_and_metrics_follow_the_engine(tmp_path: Path, chdb_client: Any, ch_database: str) -> None:
    with engine(tmp_path, chdb_client, ch_database) as e:
        settings = e.settings.model_copy(update={"status_port": free_ports(1)})
        base = f"http://127.0.0.1:{settings.status_port}"
        with engine_processes(settings, e.bootstrap) as running, status_server(settings, running, e.sink):
            feed = [(b"web", event("join", 0, enrol(), member_id="M1"))] + [
                (b"web", event(f"buy-{n}", n + 1, purchase(f"O{n}", ("tops", 10_000)), member_id="M1"))
                for n in range(3)]
            produce(e.bootstrap, e.codec, feed + feed[1:2], lambda n: None)  # one purchase sent twice
            wait_stored(e.store, len(feed), e.sink, running, 120, lambda n: None)

            status, body = get(f"{base}/health")
            assert (status, json.loads(body)) == (200, {"status": "ok", "ingest": "running", "worker": "running",
                                                        "sink": "running"})
            status, text = get(f"{base}/metrics")
            assert status == 200
            found = samples(text)
            assert found[("loyalty_up", ())] == 1
            assert found[("loyalty_worker_applied_total", (("worker", "worker"),))] == 4
            assert found[("loyalty_worker_duplicates_total", (("worker", "worker"),))] == 1
            assert found[("loyalty_sink_rows_total", ())] >= 4 * 2  # an activity row and more per event
            assert "M1" not in text  # counts only
            alerted = set(re.findall(r"loyalty_\w+", (DEPLOY / "alerts.yml").read_text()))
            assert alerted <= {name for name, _ in found}, "deploy/alerts.yml names a metric the engine lacks"

            # ClickHouse loses the ledger table: the engine goes on, the sink keeps trying, /health says so
            e.store.client.command(e.store.sql("DETACH TABLE $db.ledger"))
            produce(e.bootstrap, e.codec, [(b"web", event("buy-9", 9, purchase("O9", ("tops", 10_000)),
                                                          member_id="M1"))], lambda n: None)
            wait_until(lambda: json.loads(get(f"{base}/health")[1])["status"] == "degraded")
            status, body = get(f"{base}/health")
            assert status == 200  # restarting would not bring ClickHouse back: no liveness failure
            assert json.loads(body)["sink"].startswith("retrying: ClickHouse has stored nothing since ")
            found = samples(get(f"{base}/metrics")[1])
            assert found[("loyalty_up", ())] == 1
            assert found[("loyalty_sink_failing_seconds", ())] > 0
            assert found[("loyalty_sink_failed_writes_total", ())] >= 1
            e.store.client.command(e.store.sql("ATTACH TABLE $db.ledger"))
            wait_stored(e.store, len(feed) + 1, e.sink, running, 60, lambda n: None)
            wait_until(lambda: get(f"{base}/health")[0] == 200 and e.sink.loop.outage is None)
            assert e.store.scalar("SELECT count() FROM $db.ledger FINAL WHERE event_id = 'buy-9'") == 1
            assert samples(get(f"{base}/metrics")[1])[("loyalty_sink_failing_seconds", ())] == 0

            running.children["worker"].kill()
            running.children["worker"].wait()
            wait_until(lambda: get(f"{base}/health")[0] == 503)
            found = get(f"{base}/health")
            assert json.loads(found[1])["worker"] == "stopped" and json.loads(found[1])["status"] == "failing"
            assert samples(get(f"{base}/metrics")[1])[("loyalty_up", ())] == 0
