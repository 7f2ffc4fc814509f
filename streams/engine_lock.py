"""One engine per data directory: a lock held for as long as the engine runs, with its pid in the lock file.

Two engines on one data directory would share the worker state and embedded ClickHouse,
and the second, finding state but no saved topics, would advise starting over, which
deletes the first one's data. So ``loyalty run`` and ``loyalty demo`` take the lock before
they touch anything, and a second one is refused naming the first. The lock is
``flock``'s: the kernel lets go of it when the process ends, however it ends, so a killed
engine leaves no stale lock behind. Commands that only read (``member``, ``kpis``) never
take it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

LOCK_FILE = "engine.lock"


class DataDirectoryUnusable(RuntimeError):
    """The data directory cannot be made or written; the message names it and the setting."""


class EngineAlreadyRunning(RuntimeError):
    """Another engine holds the data directory; the message names its pid and how to stop it."""


@contextlib.contextmanager
def engine_lock(data_dir: Path) -> Iterator[None]:
    """Hold ``data_dir`` (made if missing) for this process, or raise ``EngineAlreadyRunning``."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        lock = open(data_dir / LOCK_FILE, "a+")  # noqa: SIM115  # closed below
    except OSError as exc:
        raise DataDirectoryUnusable(
            f"cannot use {data_dir.resolve()} as the data directory ({exc.strerror or exc}): set LOYALTY_DATA_DIR to "
            "a directory this user can write, on a disk with room") from None
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            pid = lock.read().strip() or "unknown"
            raise EngineAlreadyRunning(
                f"an engine is already running with data directory {data_dir.resolve()} (pid {pid}): stop it first "
                f"(Ctrl-C, or kill -TERM {pid})") from None
        lock.truncate(0)
        lock.write(f"{os.getpid()}\n")
        lock.flush()
        try:
            yield
        finally:
            lock.truncate(0)  # the lock goes with the process; an empty file names no one


def clear_data_directory(data_dir: Path) -> None:
    """Delete everything in ``data_dir`` but its lock, which the caller holds (a new file would be a new lock)."""
    for path in data_dir.iterdir():
        if path.name == LOCK_FILE:
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
