"""Starting the pieces of a running engine: broker, worker process and sink thread."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from schemas.codec import AvroCodec
from schemas.registry import registry_for
from sinks.clickhouse import STORE_ERRORS, ClickHouseStore, connect, error_summary, location
from streams.broker_snapshot import SNAPSHOT_FILE, restore_snapshot, save_snapshot
from streams.embedded import EmbeddedBroker, die_with_parent, metadata_ready, port_is_free
from streams.ingest_loop import INGEST_GROUP
from streams.settings import Settings, worker_name
from streams.sink_loop import SINK_GROUP, SinkLoop
from streams.topics import WORKER_GROUP, ensure_topics

log = logging.getLogger(__name__)

BROKER_ADDRESS_FILE = "broker-address"
ENGINE_GROUPS = (INGEST_GROUP, WORKER_GROUP, SINK_GROUP)


class NoRunningBroker(RuntimeError):
    """No embedded broker runs for this data directory; the message says what to do."""


class EarlierStateLost(RuntimeError):
    """The data directory holds members' state whose topics the embedded broker no longer has."""


class ClickHouseUnreachable(RuntimeError):
    """The configured ClickHouse server does not answer; the message says what to do."""


class PortInUse(RuntimeError):
    """A port the engine would serve on is taken; the message names the setting to change."""


class EngineStopped(RuntimeError):
    """A part of the engine stopped by itself; the message says which, its last words, and where its log is."""


def check_ports_free(settings: Settings, status: bool = True) -> None:
    """Refuse to start where a port the engine will serve on is taken (another engine's, most likely): found
    only once the broker and the processes run, it would stop a started engine with a child's traceback.

    The workers' progress pages (and, with ``status``, /health and /metrics); the embedded broker
    picks a free port itself, and the embedded registry serves none.
    """
    wanted = [(settings.status_host, settings.status_port, "LOYALTY_STATUS_PORT", "a free port, or 0 to serve "
               "neither /health nor /metrics")] if status and settings.status_port else []
    free = f"the first of {settings.workers} free ports in a row" if settings.workers > 1 else "a free port"
    for index in range(settings.workers):
        named = "LOYALTY_WORKER_WEB_PORT" + (f" + {index}, worker {index + 1} of {settings.workers}" if index else "")
        wanted.append(("127.0.0.1", settings.worker_web_port_of(index), named, free))
    for host, port, named, allowed in wanted:
        if not port_is_free(port, host):
            setting = named.partition(" ")[0]
            unusable = _host_problem(host)
            if unusable:
                raise PortInUse(f"cannot listen on {host!r} (LOYALTY_STATUS_HOST): {unusable}; set "
                                "LOYALTY_STATUS_HOST to an IPv4 address of this machine (127.0.0.1, or 0.0.0.0 for "
                                "every interface)")
            raise PortInUse(f"port {port} ({named}) is in use on {host}: another engine? set {setting} to {allowed}")


def _host_problem(host: str) -> str | None:
    """Why nothing can listen on ``host`` (not an IPv4 address of this machine), or None if something can."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, 0))
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


@contextlib.contextmanager
def broker(settings: Settings, keep_topics: bool = False) -> Iterator[str]:
    """The bootstrap address: a started embedded broker, or the configured one.

    While an embedded broker runs, its address is kept in the data directory, so
    that another command (``loyalty feed``) can find it. With ``keep_topics`` the
    embedded broker's topics outlive it (see ``broker_snapshot``): they are put
    back from the data directory at the start and saved there at the end.
    """
    if not settings.embedded_broker:
        yield settings.broker
        return
    with EmbeddedBroker(log_dir=settings.data_dir / "logs") as embedded:
        if keep_topics:
            _put_topics_back(settings, embedded.bootstrap)
        address = settings.data_dir / BROKER_ADDRESS_FILE
        address.write_text(embedded.bootstrap)
        try:
            yield embedded.bootstrap
        finally:
            address.unlink(missing_ok=True)
            if keep_topics:
                _save_topics(settings, embedded.bootstrap)


def _put_topics_back(settings: Settings, bootstrap: str) -> None:
    snapshot = settings.data_dir / SNAPSHOT_FILE
    if snapshot.exists():
        ensure_topics(bootstrap, settings.partitions)
        count = restore_snapshot(bootstrap, snapshot)
        # The broker holds them now: after a crash, this older copy would contradict the tables.
        snapshot.unlink()
        log.warning("the embedded broker's %s messages from the last run are back", count)
        return
    earlier = sorted(path.name for path in settings.data_dir.glob("worker*") if path.is_dir())
    if earlier:
        raise EarlierStateLost(
            f"{settings.data_dir.resolve()} holds members' state from an earlier run ({', '.join(earlier)}), but the "
            "topics that go with it are gone: the embedded broker keeps them in memory, and that run stopped "
            "without saving them (it was killed together with its broker). Going on would forget its members. "
            "Start over with `loyalty run --fresh` (deletes what that directory holds), or keep the engine's topics "
            "on a Kafka cluster (LOYALTY_BROKER)")


def _save_topics(settings: Settings, bootstrap: str) -> None:
    snapshot = settings.data_dir / SNAPSHOT_FILE
    try:
        count = save_snapshot(bootstrap, snapshot, ENGINE_GROUPS)
    except Exception as exc:  # the engine is stopping anyway: say what the next start will find
        log.error("the embedded broker's topics could not be saved (%s): the next start cannot go on from this "
                  "run's state", exc)
    else:
        log.warning("the embedded broker's %s messages are saved in %s for the next start", count, snapshot)


def running_broker(settings: Settings) -> str:
    """The configured broker, or the embedded one a running ``loyalty run`` started for this data directory."""
    if not settings.embedded_broker:
        return settings.broker
    address = settings.data_dir / BROKER_ADDRESS_FILE
    try:
        bootstrap = address.read_text().strip()
    except FileNotFoundError:
        raise NoRunningBroker(
            f"no engine runs with data directory {settings.data_dir.resolve()} ({address} is missing): start "
            "`loyalty run` there first, or set LOYALTY_BROKER to your Kafka's bootstrap servers"
        ) from None
    if not metadata_ready(bootstrap, timeout=3.0):
        raise NoRunningBroker(f"the engine that wrote {address} is gone (no broker answers at {bootstrap}): "
                              "start `loyalty run` again")
    return bootstrap


def clickhouse(settings: Settings, later: bool = False, existing: bool = False) -> ClickHouseStore:
    """The store of ``settings``; with ``later``, connected (and its schema made) at first use, not now; with
    ``existing``, only if its database is there (``NoDatabase`` otherwise)."""
    if settings.embedded_clickhouse:
        (settings.data_dir / "clickhouse").mkdir(parents=True, exist_ok=True)
    dsn = settings.resolved_clickhouse_dsn()
    try:
        return connect(dsn, settings.clickhouse_database, later=later, existing=existing)
    except STORE_ERRORS as exc:
        raise ClickHouseUnreachable(
            f"ClickHouse at {location(dsn)} does not answer ({error_summary(exc)}): start it, or point "
            "LOYALTY_CLICKHOUSE_DSN at one that runs (unset, the engine uses its embedded ClickHouse)") from exc


@dataclass
class EngineProcesses:
    """The ingest and worker child processes of a running engine, by name (``ingest``, ``worker``, ``worker-1``)."""

    children: dict[str, subprocess.Popen[bytes]]
    logs: Path

    def alive(self) -> bool:
        return all(child.poll() is None for child in self.children.values())

    def states(self) -> dict[str, bool]:
        """Whether each process still runs."""
        return {name: child.poll() is None for name, child in self.children.items()}

    def stopped(self) -> EngineStopped:
        """What stopped, in one line for each process: its exit code, its last words and its log file."""
        said = []
        for name, child in self.children.items():
            if child.poll() is None:
                continue
            log = self.logs / f"{name}.log"
            if child.returncode < 0:  # killed: its log's last line says nothing of why
                how = f"was killed ({signal.Signals(-child.returncode).name})"
            else:
                how = f"stopped (exit code {child.returncode}){last_words(log)}"
            said.append(f"the {name} process {how}: see {log.resolve()}")
        return EngineStopped("\n".join(said) or "no process of the engine stopped")

    def kill(self) -> None:
        """Kill them all at once, as a machine failure would (tests use this)."""
        for child in self.children.values():
            os.killpg(child.pid, signal.SIGKILL)
        for child in self.children.values():
            child.wait()


@contextlib.contextmanager
def engine_processes(settings: Settings, bootstrap: str) -> Iterator[EngineProcesses]:
    """``loyalty ingest`` and ``settings.workers`` of ``loyalty worker`` as child processes, stopped on exit."""
    logs = settings.data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **settings_environment(settings), "LOYALTY_BROKER": bootstrap}
    commands = {"ingest": ["ingest"]} | {worker_name(n): ["worker", "--index", str(n)] for n in range(settings.workers)}
    children: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name, command in commands.items():
            with open(logs / f"{name}.log", "ab") as log:
                children[name] = subprocess.Popen([sys.executable, "-m", "streams.cli", *command], env=env,
                                                  stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                                  preexec_fn=die_with_parent(os.getpid()))
        yield EngineProcesses(children, logs)
    finally:
        for child in children.values():
            stop_child(child)


# The last line of a traceback: ``OSError: [Errno 98] ...``, ``pydantic_core._pydantic_core.ValidationError: ...``.
_EXCEPTION_LINE = re.compile(r"^[\w.]*(Error|Exception|Interrupt)\b.*")


def last_words(log: Path, lines: int = 200) -> str:
    """``: `` and the last exception a log file names (else its last line), or nothing if it is empty."""
    try:
        tail = [line.strip() for line in log.read_text(errors="replace").splitlines()[-lines:] if line.strip()]
    except OSError:
        return ""
    found = [line for line in tail if _EXCEPTION_LINE.match(line)]
    return f": {(found or tail)[-1]}" if tail else ""


def settings_environment(settings: Settings) -> dict[str, str]:
    """The settings as LOYALTY_* variables, so a child process sees exactly these."""
    values = settings.model_dump(exclude_none=True)
    values["data_dir"] = settings.data_dir.resolve()
    return {f"LOYALTY_{name.upper()}": str(value) for name, value in values.items()}


def stop_child(child: subprocess.Popen[bytes], timeout: float = 20) -> None:
    if child.poll() is None:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


@dataclass
class RunningSink:
    loop: SinkLoop
    thread: threading.Thread
    stop: threading.Event
    error: list[BaseException]


@contextlib.contextmanager
def sink_thread(settings: Settings, bootstrap: str, store: ClickHouseStore) -> Iterator[RunningSink]:
    codec = AvroCodec(registry_for(settings.schema_registry_url))
    loop = SinkLoop(bootstrap, codec, store, settings.sink_batch_rows, settings.sink_flush_ms, settings.fetch_wait_ms)
    stop, errors = threading.Event(), []

    def run() -> None:
        try:
            loop.run(stop)
        except BaseException as exc:  # surfaced to the caller through RunningSink.error
            errors.append(exc)

    thread = threading.Thread(target=run, name="clickhouse-sink", daemon=True)
    thread.start()
    try:
        yield RunningSink(loop, thread, stop, errors)
    finally:
        stop.set()
        thread.join(30)
