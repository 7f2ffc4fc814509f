"""`loyalty demo` and `loyalty run` check what they are asked before they start or delete anything."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from streams.cli import main
from streams.demo import DEMO_DIR, DemoDirectoryTaken, demo_data_directory
from streams.embedded import free_ports
from streams.engine_lock import LOCK_FILE, EngineAlreadyRunning, clear_data_directory, engine_lock
from streams.processes import EngineProcesses, PortInUse, check_ports_free
from streams.settings import Settings


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data directory with a file of someone else's in it, configured for the commands."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "notes.txt").write_text("mine")
    monkeypatch.setenv("LOYALTY_DATA_DIR", str(data))
    return data


@pytest.mark.parametrize(("arguments", "said"), [
    (["--members", "0"], "Invalid value for '--members': 0 is not in the range x>=1"),
    (["--events", "-1"], "Invalid value for '--events': -1 is not in the range x>=0"),
    (["--timeout", "0"], "Invalid value for '--timeout': 0 is not in the range x>=1"),
])
def test_the_demo_refuses_impossible_arguments_before_it_touches_the_data_directory(
        data_dir: Path, arguments: list[str], said: str) -> None:
    refused = CliRunner().invoke(main, ["demo", *arguments])

    assert refused.exit_code == 2 and said in refused.output
    assert [p.name for p in data_dir.iterdir()] == ["notes.txt"]


def test_the_demo_keeps_its_data_in_a_folder_of_its_own_made_fresh_each_time(data_dir: Path) -> None:
    settings = Settings(data_dir=data_dir)
    with demo_data_directory(settings) as demo:
        (demo.data_dir / "worker").mkdir()  # what a demo leaves behind
    with demo_data_directory(settings) as again:
        assert again.data_dir == data_dir / DEMO_DIR
        assert not (again.data_dir / "worker").exists()
    assert (data_dir / "notes.txt").read_text() == "mine"


def test_the_demo_does_not_delete_a_folder_it_did_not_make(data_dir: Path) -> None:
    (data_dir / DEMO_DIR).mkdir()
    (data_dir / DEMO_DIR / "slides.pdf").write_text("someone's")

    with pytest.raises(DemoDirectoryTaken, match="holds something the demo did not make"), \
            demo_data_directory(Settings(data_dir=data_dir)):
        pass
    assert (data_dir / DEMO_DIR / "slides.pdf").read_text() == "someone's"


def test_a_second_engine_on_a_data_directory_is_refused_naming_the_first_and_changes_nothing(data_dir: Path) -> None:
    with engine_lock(data_dir):
        (data_dir / "worker").mkdir()  # the running engine's state
        runner = CliRunner()
        again = runner.invoke(main, ["run"])
        fresh = runner.invoke(main, ["run", "--fresh"])
        demo = runner.invoke(main, ["demo", "--members", "1"])
        with pytest.raises(EngineAlreadyRunning), engine_lock(data_dir):
            pass

    said = f"an engine is already running with data directory {data_dir} (pid {os.getpid()}): stop it first"
    for refused in (again, fresh, demo):
        assert refused.exit_code == 1 and said in " ".join(refused.output.split()), refused.output
        assert f"kill -TERM {os.getpid()}" in refused.output
    assert sorted(p.name for p in data_dir.iterdir()) == [LOCK_FILE, "notes.txt", "worker"]


def test_once_the_engine_stops_its_data_directory_is_free_and_fresh_empties_it_but_for_the_lock(
        data_dir: Path) -> None:
    with engine_lock(data_dir):
        pass
    with engine_lock(data_dir):
        (data_dir / "worker").mkdir()
        clear_data_directory(data_dir)
        assert [p.name for p in data_dir.iterdir()] == [LOCK_FILE]


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port something else listens on, as another engine's would be."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", free_ports(1)))
        listener.listen()
        yield listener.getsockname()[1]


def test_an_engine_whose_worker_port_is_taken_is_refused_before_it_starts_naming_the_setting(
        data_dir: Path, taken_port: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOYALTY_WORKER_WEB_PORT", str(taken_port))
    monkeypatch.setenv("LOYALTY_WORKERS", "1")
    monkeypatch.setenv("LOYALTY_STATUS_PORT", "0")

    refused = CliRunner().invoke(main, ["run"])

    assert refused.exit_code == 1
    assert (f"port {taken_port} (LOYALTY_WORKER_WEB_PORT) is in use on 127.0.0.1: another engine? set "
            "LOYALTY_WORKER_WEB_PORT to a free port") in " ".join(refused.output.split())
    assert sorted(p.name for p in data_dir.iterdir()) == [LOCK_FILE, "notes.txt"]  # no broker, no logs


def test_the_second_workers_port_and_the_status_port_are_checked_too(taken_port: int) -> None:
    second = Settings(worker_web_port=taken_port - 1, workers=2, status_port=0)
    status = Settings(worker_web_port=free_ports(2), workers=2, status_port=taken_port)

    with pytest.raises(PortInUse, match=rf"port {taken_port} \(LOYALTY_WORKER_WEB_PORT \+ 1, worker 2 of 2\) is in "
                       "use on 127.0.0.1: another engine\\? set LOYALTY_WORKER_WEB_PORT to the first of 2 free ports "
                       "in a row"):
        check_ports_free(second)
    with pytest.raises(PortInUse, match=rf"port {taken_port} \(LOYALTY_STATUS_PORT\)"):
        check_ports_free(status)
    check_ports_free(status, status=False)  # the demo serves no /health


def test_a_process_that_stops_is_named_with_its_last_error_and_its_log_file(tmp_path: Path) -> None:
    log = tmp_path / "worker.log"
    log.write_text("starting\nTraceback (most recent call last):\n  File \"x.py\", line 1\nOSError: [Errno 98] "
                   "error while attempting to bind on address ('127.0.0.1', 6066): address already in use\n"
                   "[^Worker]: Stopping...\n")
    failed = subprocess.Popen([sys.executable, "-c", "raise SystemExit(1)"])
    killed = subprocess.Popen([sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"])
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    failed.wait(), killed.wait()
    try:
        stopped = EngineProcesses({"worker": failed, "worker-1": killed, "ingest": running}, tmp_path).stopped()
    finally:
        running.kill()

    assert str(stopped).splitlines() == [
        "the worker process stopped (exit code 1): OSError: [Errno 98] error while attempting to bind on address "
        f"('127.0.0.1', 6066): address already in use: see {log}",
        f"the worker-1 process was killed (SIGKILL): see {tmp_path / 'worker-1.log'}"]


@pytest.mark.parametrize("command", [["run"], ["run", "--fresh"], ["demo"]])
def test_an_engine_with_a_mistyped_program_says_where_as_program_check_does_and_starts_nothing(
        data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]) -> None:
    typo = tmp_path / "typo.yaml"
    typo.write_text("name: Kaffebaren\ncurrency: SEK\nearn: {points: 1, per_amount_minor: 1000}\n"
                    "welcom_bonus_points: 50\n")
    monkeypatch.setenv("LOYALTY_PROGRAM_FILE", str(typo))
    runner = CliRunner()

    refused = runner.invoke(main, command)
    checked = runner.invoke(main, ["program", "check", str(typo)])

    assert refused.exit_code == checked.exit_code == 2
    assert f"{typo}:4: welcom_bonus_points: unknown field; allowed here: name, currency" in refused.output
    assert refused.output == checked.output and "Traceback" not in refused.output
    assert [p.name for p in data_dir.iterdir()] == ["notes.txt"]
