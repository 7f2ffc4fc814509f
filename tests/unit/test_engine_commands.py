"""`loyalty demo` and `loyalty run` check what they are asked before they start or delete anything."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from streams.cli import main
from streams.demo import DEMO_DIR, DemoDirectoryTaken, demo_data_directory
from streams.engine_lock import LOCK_FILE, EngineAlreadyRunning, clear_data_directory, engine_lock
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
