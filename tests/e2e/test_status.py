"""/health and /metrics of a running engine: real worker and sink counts, and a failing part is reported."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
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


def test_health_and_metrics_follow_the_engine(tmp_path: Path, chdb_client: Any, ch_database: str) -> None:
    with engine(tmp_path, chdb_client, ch_database) as e:
        settings = e.settings.model_copy(update={"status_port": free_ports(1)})
        base = f"http://127.0.0.1:{settings.status_port}"
        with engine_processes(settings, e.bootstrap) as running, status_server(settings, running, e.sink):
            feed = [(b"web", event("join", 0, enrol(), member_id="M1"))] + [
                (b"web", event(f"buy-{n}", n + 1, purchase(f"O{n}", ("tops", 10_000)), member_id="M1"))
                for n in range(3)]
            produce(e.bootstrap, e.codec, feed + feed[1:2], lambda n: None)  # one purchase sent twice
            wait_stored(e.store, len(feed), e.sink, running.alive, 120, lambda n: None)

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

            running.children["worker"].kill()
            running.children["worker"].wait()
            deadline = time.monotonic() + 10
            while (found := get(f"{base}/health"))[0] == 200 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert found[0] == 503
            assert json.loads(found[1])["worker"] == "stopped" and json.loads(found[1])["status"] == "failing"
            assert samples(get(f"{base}/metrics")[1])[("loyalty_up", ())] == 0
