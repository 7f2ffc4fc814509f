"""The ClickHouse sink on embedded chDB: schema, column-oriented inserts, replay dedupe."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from schemas.contracts import load_contract
from sinks import queries
from sinks.clickhouse import ClickHouseStore
from sinks.tables import TABLES, TABLES_BY_TOPIC, VIEWS, quote_ident

T0 = dt.datetime(2025, 3, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def store(chdb_client: Any, ch_database: str) -> Iterator[ClickHouseStore]:
    s = ClickHouseStore(chdb_client, ch_database)
    s.ensure_schema()
    yield s


def ledger(n: int, member: str = "m1") -> list[dict[str, Any]]:
    return [
        {
            "entry_id": f"e{i}", "member_id": member, "event_id": f"ev{i}",
            "occurred_at": T0 + dt.timedelta(seconds=i, milliseconds=7), "reason": "purchase",
            "points": i, "balance_after": i * (i + 1) // 2, "order_id": None, "line_id": None,
            "detail": "1 point per EUR 1.00",
        }
        for i in range(n)
    ]


def test_ensure_schema_is_idempotent(store: ClickHouseStore) -> None:
    store.ensure_schema()
    store.ensure_schema()
    names = {r["name"] for r in store.rows(
        "SELECT name FROM system.tables WHERE database = {db:String}", {"db": store.database})}
    assert names == {t.name for t in TABLES} | set(VIEWS)


def test_every_contract_field_has_a_column() -> None:
    """A field added to an .avsc without a column here would be silently dropped."""
    contracts = {
        "loyalty.ledger.v1": "LedgerEntry", "loyalty.rewards.v1": "RewardIssued",
        "loyalty.triggers.v1": "Trigger", "loyalty.tiers.v1": "TierChanged",
        "loyalty.activity.v1": "Activity", "loyalty.deadletter.v1": "DeadLetter",
        "loyalty.settlements.v1": "SettlementEntry",
    }
    assert set(contracts) == set(TABLES_BY_TOPIC)
    for topic, name in contracts.items():
        schema = load_contract(name)
        fields = {f["name"] for f in schema["fields"]}
        columns = set(TABLES_BY_TOPIC[topic].column_names)
        if name == "Activity":  # nested lines become parallel line_* arrays
            fields.remove("lines")
            (lines,) = (f for f in schema["fields"] if f["name"] == "lines")
            nested = [f["name"] for f in lines["type"]["items"]["fields"]]
            fields |= {n if n == "line_id" else f"line_{n}" for n in nested}
        assert fields == columns, topic


def test_every_topic_the_sink_reads_has_a_table() -> None:
    from streams.sink_loop import SINK_TOPICS

    assert set(TABLES_BY_TOPIC) == set(SINK_TOPICS)


def test_insert_roundtrip_types(store: ClickHouseStore) -> None:
    rows = ledger(3)
    assert store.insert("loyalty.ledger.v1", rows) == 3
    got = queries.member_ledger(store, "m1")
    assert [r["entry_id"] for r in got] == ["e0", "e1", "e2"]
    assert got[2]["occurred_at"] == rows[2]["occurred_at"]  # ms precision, UTC-aware
    assert got[2]["occurred_at"].tzinfo is dt.UTC
    assert type(got[2]["points"]) is int and got[2]["balance_after"] == 3


def test_insert_nothing_and_unknown_topic(store: ClickHouseStore) -> None:
    assert store.insert("loyalty.ledger.v1", []) == 0
    with pytest.raises(ValueError, match="no ClickHouse table"):
        store.insert("loyalty.nope.v1", ledger(1))


def test_missing_required_field_is_loud(store: ClickHouseStore) -> None:
    bad = ledger(1)
    del bad[0]["points"]
    with pytest.raises(KeyError):
        store.insert("loyalty.ledger.v1", bad)


def test_replayed_rows_count_once(store: ClickHouseStore) -> None:
    store.client.command(f"SYSTEM STOP MERGES {quote_ident(store.database)}.ledger")
    rows = ledger(10)
    store.insert("loyalty.ledger.v1", rows)
    store.insert("loyalty.ledger.v1", rows[3:] + rows[:2])  # a replay, in another insert
    store.insert("loyalty.ledger.v1", rows[:1] * 3)  # and within one insert
    raw = store.scalar("SELECT count() FROM $db.ledger")
    assert raw > 10  # the duplicates really are stored, unmerged
    assert len(queries.member_ledger(store, "m1")) == 10
    assert store.scalar("SELECT sum(points) FROM $db.ledger FINAL") == sum(range(10))


def test_triggers_rewards_and_maps(store: ClickHouseStore) -> None:
    trig = {"trigger_id": "t1", "member_id": "m1", "event_id": "ev1", "occurred_at": T0,
            "kind": "near_tier", "message": "150 points to Gold", "attributes": {"next_tier": "gold"}}
    rew = {"reward_id": "r1", "member_id": "m1", "event_id": "ev1", "occurred_at": T0,
           "reward": "free_coffee", "points": -200, "detail": "redeemed"}
    store.insert("loyalty.triggers.v1", [trig, trig])
    store.insert("loyalty.triggers.v1", [{**trig, "trigger_id": "t2", "attributes": {}}])
    store.insert("loyalty.rewards.v1", [rew])
    store.insert("loyalty.rewards.v1", [rew])
    got = store.rows("SELECT trigger_id, attributes FROM $db.triggers FINAL ORDER BY trigger_id")
    assert got == [{"trigger_id": "t1", "attributes": {"next_tier": "gold"}},
                   {"trigger_id": "t2", "attributes": {}}]
    got = store.rows("SELECT reward_id, points FROM $db.rewards FINAL")
    assert got == [{"reward_id": "r1", "points": -200}]


def test_connect_embedded(chdb_path: Any, ch_database: str) -> None:
    """connect() on the process's chDB path shares the engine with the session client."""
    from sinks.clickhouse import connect

    s = connect(f"chdb://{chdb_path}", ch_database)
    s.insert("loyalty.ledger.v1", ledger(2))
    assert s.scalar("SELECT count() FROM $db.ledger FINAL") == 2


def test_quote_ident_refuses_odd_names() -> None:
    with pytest.raises(ValueError):
        quote_ident("x`; DROP DATABASE y")
