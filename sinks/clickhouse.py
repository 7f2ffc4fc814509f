"""Write decoded output records into ClickHouse and read them back as plain values.

The same code serves embedded chDB (``chdb:///abs/path``, one data path per process,
sync client only: call it from an executor inside asyncio) and a real server
(``http://user:pass@host:8123``). Everything is addressed as ``database.table`` so
several stores (e.g. one random database per test) can share one chDB client.

Inserts hand ClickHouse Avro object containers (``FORMAT Avro``): ClickHouse reads
the messages' Avro itself, so no row is decoded or re-encoded in Python. No retry
here: the caller (the sink loop) tries again and commits its offsets only after
``insert`` returned.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from sinks.tables import MEMBER_TABLES, TABLES_BY_TOPIC, Table, create_statements, quote_ident

__all__ = ["STORE_ERRORS", "ClickHouseStore", "connect", "error_summary", "location"]

# What a ClickHouse that is down, unreachable or refusing a statement raises: worth trying again later.
STORE_ERRORS: tuple[type[Exception], ...] = (ClickHouseError, OSError)


# The HTTP driver warns "Unexpected Http Driver Exception" before it raises: the store's callers report the error
# themselves, with what they do about it.
logging.getLogger("clickhouse_connect.driver._backend.http_sync").setLevel(logging.ERROR)


def error_summary(exc: Exception) -> str:
    """The error's type and first line: ClickHouse adds pages of stack trace."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"[:300]


# Missing fields (written before they existed) take the column default. One thread an insert: small frequent
# inserts gain nothing from more, and embedded, their bursts on every core held up the engine's other processes.
_INSERT_SETTINGS = {"input_format_avro_allow_missing_fields": 1, "max_threads": 1, "max_insert_threads": 1}


class ClickHouseStore:
    """The loyalty tables in one ClickHouse database, reached through one client.

    The client is either given or opened at first use (``open_client``), so the
    engine can start while ClickHouse is down: every use until it answers raises
    one of ``STORE_ERRORS``, which the callers try again. A client opened here
    creates the schema before it is used.
    """

    def __init__(self, client: Client | None, database: str, open_client: Callable[[], Client] | None = None) -> None:
        quote_ident(database)  # refuse odd names early
        if client is None and open_client is None:
            raise ValueError("give a ClickHouse client or a way to open one")
        self._client = client
        self._open_client = open_client
        self.database = database
        # The sink thread writes while the demo polls: one chDB session must not be used concurrently.
        self._lock = threading.Lock()
        self._opening = threading.Lock()

    @property
    def client(self) -> Client:
        if self._client is None:
            with self._opening:
                if self._client is None and self._open_client is not None:
                    client = self._open_client()
                    self._create_schema(client)
                    self._client = client
        assert self._client is not None
        return self._client

    # -- schema -------------------------------------------------------------------
    def ensure_schema(self) -> None:
        """Create the database, tables and views if missing; safe to call on every start."""
        self._create_schema(self.client)

    def _create_schema(self, client: Client) -> None:
        for statement in create_statements(self.database):
            client.command(statement)

    # -- writes -------------------------------------------------------------------
    @staticmethod
    def table_for(topic: str) -> Table:
        """The table fed by ``topic`` (the one mapping place, see ``sinks.tables``)."""
        try:
            return TABLES_BY_TOPIC[topic]
        except KeyError:
            known = sorted(TABLES_BY_TOPIC)
            raise ValueError(f"no ClickHouse table for topic {topic!r}; known: {known}") from None

    def insert(self, topic: str, containers: Iterable[bytes]) -> None:
        """Store Avro object containers of ``topic``'s messages (see ``AvroCodec.containers``).

        Replayed messages are fine: the tables dedupe on the deterministic id. A
        field an older contract lacked gets its column's default.
        """
        table = self.table_for(topic)
        for container in containers:
            with self._lock:
                self.client.raw_insert(f"{quote_ident(self.database)}.{quote_ident(table.name)}",
                                       table.inserted_columns, container, fmt="Avro", settings=_INSERT_SETTINGS)

    def forget_erased(self) -> None:
        """Delete every row of the erased members (those in ``erasures``) from the member tables."""
        if not self.scalar("SELECT count() FROM $db.erasures"):
            return
        for table in MEMBER_TABLES:
            with self._lock:
                self.client.command(self.sql(f"DELETE FROM $db.{quote_ident(table)} "
                                             "WHERE member_id IN (SELECT member_id FROM $db.erasures)"))

    # -- reads --------------------------------------------------------------------
    def sql(self, template: str) -> str:
        """Put this store's database where a template says ``$db`` (``{...}`` stays for parameters)."""
        return template.replace("$db", quote_ident(self.database))

    def rows(
        self,
        template: str,
        parameters: Mapping[str, Any] | None = None,
        column_formats: Mapping[str, str] | None = None,
    ) -> list[dict[str, Any]]:
        """Run a query and return dicts; DateTime64 values come back UTC-aware."""
        with self._lock:
            result = self.client.query(
                self.sql(template),
                parameters=dict(parameters or {}),
                column_formats=dict(column_formats or {}),
            )
        names = result.column_names
        return [dict(zip(names, map(_aware, row), strict=True)) for row in result.result_rows]

    def scalar(self, template: str, parameters: Mapping[str, Any] | None = None) -> Any:
        """The single value of a one-row, one-column query."""
        rows = self.rows(template, parameters)
        return next(iter(rows[0].values()))

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def _aware(value: Any) -> Any:
    """All our times are stored in UTC; the driver hands them back naive, so say so."""
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


class NoDatabase(LookupError):
    """The database a reader asked for is not there (a mistyped name, most likely)."""


def connect(dsn: str, database: str, *, ensure_schema: bool = True, later: bool = False, existing: bool = False,
            **client_args: Any) -> ClickHouseStore:
    """A store on ``dsn`` ("chdb:///abs/path", "chdb://memory" or "http://user:pass@host:8123").

    The client is opened without a default database so one chDB client can serve many
    databases; the schema is created unless ``ensure_schema=False``. With ``later``,
    both happen at the store's first use instead of now. With ``existing`` (for
    readers), a missing database raises ``NoDatabase`` rather than being made empty;
    the tables and views an older engine did not make are still added to one there.
    """
    scheme = urlsplit(dsn).scheme
    if scheme in ("http", "https"):  # clickhouse-connect reads the scheme of none: https:// would go as plain http
        client_args.setdefault("interface", scheme)
    if later:
        return ClickHouseStore(None, database, lambda: clickhouse_connect.get_client(dsn=dsn, **client_args))
    store = ClickHouseStore(clickhouse_connect.get_client(dsn=dsn, **client_args), database)
    if existing and not store.scalar("SELECT count() FROM system.databases WHERE name = {name:String}",
                                     {"name": database}):
        store.close()
        raise NoDatabase(f"no database {database!r} in ClickHouse at {location(dsn)}: check "
                         "LOYALTY_CLICKHOUSE_DATABASE (the engine makes its database when `loyalty run` starts)")
    if ensure_schema:
        store.ensure_schema()
    return store


def location(dsn: str) -> str:
    """``dsn`` without its user and password: what may be printed and logged."""
    parts = urlsplit(dsn)
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl() if parts.netloc else dsn
