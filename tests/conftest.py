"""Shared fixtures: an embedded broker per session, and one chDB per pytest process.

chDB allows ONE data path per process, so everything here that talks to chDB
uses ``chdb_client`` and isolates itself with a fresh database (``ch_database``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from streams.embedded import EmbeddedBroker


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    """One embedded broker for the session, every engine topic created.

    Tests that need a broker of their own (the end-to-end ones) start one: it takes ~0.2 s.
    """
    from streams.topics import DEFAULT_PARTITIONS, ensure_topics

    with EmbeddedBroker(log_dir=tmp_path_factory.mktemp("tansu")) as started:
        ensure_topics(started.bootstrap, DEFAULT_PARTITIONS)
        yield started


@pytest.fixture(scope="session")
def chdb_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The process's only chDB data path."""
    return tmp_path_factory.mktemp("chdb")


@pytest.fixture(scope="session")
def chdb_client(chdb_path: Path) -> Iterator[Any]:
    """One in-process ClickHouse (sync clickhouse-connect client) for the whole session."""
    import clickhouse_connect

    client = clickhouse_connect.get_client(dsn=f"chdb://{chdb_path}")
    yield client
    client.close()


@pytest.fixture
def ch_database(chdb_client: Any) -> Iterator[str]:
    """A fresh random database name for one test (created by the code under test), dropped after."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    yield name
    chdb_client.command(f"DROP DATABASE IF EXISTS `{name}`")
