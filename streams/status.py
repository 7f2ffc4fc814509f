"""The running engine's health and metrics over HTTP, for an operator's probes and Prometheus.

``loyalty run`` serves them on ``LOYALTY_STATUS_HOST``:``LOYALTY_STATUS_PORT``:

- ``GET /health``: 200 and ``{"status": "ok", ...}`` while ingest, every worker and the
  ClickHouse sink run; 200 and ``"degraded"`` while ClickHouse refuses the sink's writes
  (the engine goes on, the sink tries again: restarting would not help); 503 and what
  stopped otherwise (a liveness probe restarts it).
- ``GET /metrics``: Prometheus text. ``loyalty_up``; each worker's counts from its progress
  page as counters (``loyalty_worker_applied_total{worker="worker"}``: events applied,
  duplicates, refusals, member batches, ...); the rows the sink stored, how long it has
  had nothing to store, and how long and how often ClickHouse has refused its writes.

Counts only: no member id or event content is ever exposed here.
"""

from __future__ import annotations

import contextlib
import json
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from streams.background import serving
from streams.processes import EngineProcesses, PortInUse, RunningSink
from streams.settings import Settings, worker_name

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def health(engine: EngineProcesses, sink: RunningSink) -> dict[str, Any]:
    """``status`` ok, degraded (ClickHouse refuses writes) or failing (a part stopped), and each part's state."""
    parts = {name: "running" if alive else "stopped" for name, alive in engine.states().items()}
    outage = sink.loop.outage
    parts["sink"] = f"stopped: {sink.error[0]!r}" if sink.error else str(outage) if outage else "running"
    if any(state.startswith("stopped") for state in parts.values()):
        status = "failing"
    else:
        status = "degraded" if outage else "ok"
    return {"status": status, **parts}


class EngineCollector:
    """Reads the engine's figures when Prometheus scrapes, never in between."""

    def __init__(self, settings: Settings, engine: EngineProcesses, sink: RunningSink) -> None:
        self._settings, self._engine, self._sink = settings, engine, sink

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("loyalty_up", "1 while ingest, every worker and the ClickHouse sink run")
        up.add_metric([], 0.0 if health(self._engine, self._sink)["status"] == "failing" else 1.0)
        yield up
        counters: dict[str, CounterMetricFamily] = {}
        for index in range(self._settings.workers):
            for count, value in self._worker_counts(index).items():
                family = counters.setdefault(count, CounterMetricFamily(
                    f"loyalty_worker_{count}", f"{count.replace('_', ' ')}, as the worker counts them since it started",
                    labels=["worker"]))
                family.add_metric([worker_name(index)], float(value))
        yield from counters.values()
        rows = CounterMetricFamily("loyalty_sink_rows", "rows the sink stored in ClickHouse since it started")
        rows.add_metric([], float(self._sink.loop.rows_written))
        yield rows
        idle = GaugeMetricFamily("loyalty_sink_idle_seconds", "seconds since the sink last received or stored rows")
        idle.add_metric([], self._sink.loop.idle_seconds())
        yield idle
        failing = GaugeMetricFamily("loyalty_sink_failing_seconds",
                                    "seconds ClickHouse has refused every write of the sink (0 while it stores)")
        failing.add_metric([], self._sink.loop.failing_seconds())
        yield failing
        failed = CounterMetricFamily("loyalty_sink_failed_writes", "writes ClickHouse refused since the sink started")
        failed.add_metric([], float(self._sink.loop.failed_writes))
        yield failed

    def _worker_counts(self, index: int) -> dict[str, int]:
        url = f"http://127.0.0.1:{self._settings.worker_web_port_of(index)}/progress/"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                counts = json.load(response)
        except (OSError, ValueError):  # a worker starting or stopped has no counts to give: /health says which
            return {}
        return {name: value for name, value in counts.items() if isinstance(value, int)}


def status_app(settings: Settings, engine: EngineProcesses, sink: RunningSink) -> Callable[..., Iterable[bytes]]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(EngineCollector(settings, engine, sink))  # type: ignore[arg-type]
    metrics = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/health":
            found = health(engine, sink)
            start_response("503 Service Unavailable" if found["status"] == "failing" else "200 OK",
                           [("Content-Type", "application/json")])
            return [json.dumps(found).encode()]
        return metrics(environ, start_response)  # type: ignore[no-any-return]

    return app


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # every scrape would be a log line
        pass


@contextlib.contextmanager
def status_server(settings: Settings, engine: EngineProcesses, sink: RunningSink) -> Iterator[WSGIServer | None]:
    """Serve /health and /metrics in a thread while the engine runs (not at all with port 0)."""
    if not settings.status_port:
        yield None
        return
    try:
        server = make_server(settings.status_host, settings.status_port, status_app(settings, engine, sink),
                             handler_class=_QuietHandler)
    except OSError as exc:
        raise PortInUse(f"cannot serve /health and /metrics on {settings.status_host}:{settings.status_port} "
                           f"({exc.strerror}): set LOYALTY_STATUS_PORT to a free port, or 0 to serve neither") from exc
    with serving(server, "status-http"):
        yield server
