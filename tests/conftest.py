"""Shared pytest fixtures: each group belongs to one component, see its header."""


# ---------------------------------------------------------------------------
# Kafka: embedded Tansu broker (owner: streams/embedded.py). Keep this group intact.
# ---------------------------------------------------------------------------
from collections.abc import Iterator as _BrokerIterator

import pytest as _pytest_broker

from streams.embedded import EmbeddedBroker as _EmbeddedBroker


@_pytest_broker.fixture(scope="session")
def broker(tmp_path_factory: _pytest_broker.TempPathFactory) -> _BrokerIterator[_EmbeddedBroker]:
    """One embedded broker per test session, with every engine topic created.

    Session-scoped because consumer-group joins dominate test time, not broker start
    (~0.2 s); tests that need a private broker start their own EmbeddedBroker.
    Tansu keeps everything in memory, so each session starts from empty topics.
    """
    from streams.topics import DEFAULT_PARTITIONS, ensure_topics

    with _EmbeddedBroker(log_dir=tmp_path_factory.mktemp("tansu")) as b:
        ensure_topics(b.bootstrap, DEFAULT_PARTITIONS)
        yield b


# ------------------------------------------------------------- end Kafka group


# ---------------------------------------------------------------------------
# ClickHouse: embedded chDB (owner: sinks/clickhouse.py). Keep this group intact.
# chDB allows ONE data path per process: everything in a pytest process that talks to
# chDB must use `chdb_path` / `chdb_client` (a second path fails); isolate tests by
# database (`ch_database`), not by path.
# ---------------------------------------------------------------------------
import uuid as _ch_uuid  # noqa: E402  (each group keeps its own imports)
from collections.abc import Iterator as _ChIterator  # noqa: E402
from pathlib import Path as _ChPath  # noqa: E402
from typing import Any as _ChAny  # noqa: E402

import pytest as _pytest_ch  # noqa: E402


@_pytest_ch.fixture(scope="session")
def chdb_path(tmp_path_factory: _pytest_ch.TempPathFactory) -> _ChPath:
    """The process's only chDB data path; build DSNs as f"chdb://{chdb_path}"."""
    return tmp_path_factory.mktemp("chdb")


@_pytest_ch.fixture(scope="session")
def chdb_client(chdb_path: _ChPath) -> _ChIterator[_ChAny]:
    """One in-process ClickHouse (sync clickhouse-connect client) for the whole session."""
    import clickhouse_connect

    client = clickhouse_connect.get_client(dsn=f"chdb://{chdb_path}")
    yield client
    client.close()


@_pytest_ch.fixture
def ch_database(chdb_client: _ChAny) -> _ChIterator[str]:
    """A fresh random database name for one test (created by the code under test); dropped after."""
    name = f"t_{_ch_uuid.uuid4().hex[:12]}"
    yield name
    chdb_client.command(f"DROP DATABASE IF EXISTS `{name}`")


# -------------------------------------------------------- end ClickHouse group
