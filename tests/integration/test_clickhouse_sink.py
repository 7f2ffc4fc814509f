"""The ClickHouse sink on embedded chDB: schema, Avro inserts, replay dedupe."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from io import BytesIO
from typing import Any

import fastavro
import orjson
import pytest
from stored_records import store_records

from schemas.codec import AvroCodec, CodecError
from schemas.contracts import contract_text, load_contract
from schemas.registry import EmbeddedRegistry
from sinks import queries
from sinks.clickhouse import ClickHouseStore, location
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
    for table in TABLES:
        fields = {f["name"] for f in load_contract(table.contract)["fields"]}
        assert fields == set(table.inserted_columns), table.topic


def test_every_topic_the_sink_reads_has_a_table() -> None:
    from streams.sink_loop import SINK_TOPICS

    assert set(TABLES_BY_TOPIC) == set(SINK_TOPICS)


def test_insert_roundtrip_types(store: ClickHouseStore) -> None:
    rows = ledger(3)
    store_records(store, "loyalty.ledger.v1", rows)
    got = queries.member_ledger(store, "m1")
    assert [r["entry_id"] for r in got] == ["e0", "e1", "e2"]
    assert got[2]["occurred_at"] == rows[2]["occurred_at"]  # ms precision, UTC-aware
    assert got[2]["occurred_at"].tzinfo is dt.UTC
    assert type(got[2]["points"]) is int and got[2]["balance_after"] == 3


def test_activity_lines_become_parallel_arrays(store: ClickHouseStore) -> None:
    line = {"line_id": "1", "sku": "TEE-1", "category": "tops", "quantity": 2, "amount_minor": 5000, "points": 50}
    activity = {"event_id": "ev1", "member_id": "m1", "occurred_at": T0, "event_type": "purchase", "channel": "web",
                "store_id": None, "currency": "SEK", "amount_minor": 7000, "points": 70, "order_id": "o1",
                "lines": [line, {**line, "line_id": "2", "category": "socks", "quantity": 1, "amount_minor": 2000,
                                 "points": 20}]}
    store_records(store, "loyalty.activity.v1", [activity])
    got = store.rows("SELECT * FROM $db.activity")
    assert got[0] | {"occurred_at": T0} == {
        **{k: v for k, v in activity.items() if k != "lines"}, "line_id": ["1", "2"], "line_sku": ["TEE-1", "TEE-1"],
        "line_category": ["tops", "socks"], "line_quantity": [2, 1], "line_amount_minor": [5000, 2000],
        "line_points": [50, 20], "survey": None, "score": None, "segments": []}


def test_an_earlier_versions_schema_is_brought_up_to_date(store: ClickHouseStore) -> None:
    """Tables get the columns added since (old rows read their defaults) and views their current query."""
    db = quote_ident(store.database)
    answer = {"event_id": "ev1", "member_id": "m1", "occurred_at": T0, "event_type": "survey", "channel": None,
              "store_id": None, "currency": None, "amount_minor": 0, "points": 0, "order_id": None, "lines": [],
              "survey": "nps-q1", "score": 9, "segments": []}
    store_records(store, "loyalty.activity.v1", [{**answer, "event_id": "ev0", "event_type": "card_linked",
                                                  "survey": None, "score": None}])
    store.client.command(f"ALTER TABLE {db}.activity DROP COLUMN survey, DROP COLUMN score, DROP COLUMN segments")
    store.client.command(f"CREATE OR REPLACE VIEW {db}.customers AS SELECT 1 AS stale")
    store.ensure_schema()
    store_records(store, "loyalty.activity.v1", [answer])
    assert store.rows("SELECT event_id, survey, score, segments FROM $db.activity ORDER BY event_id") == [
        {"event_id": "ev0", "survey": None, "score": None, "segments": []},
        {"event_id": "ev1", "survey": "nps-q1", "score": 9, "segments": []}]
    view = store.scalar("SELECT create_table_query FROM system.tables WHERE database = {db:String} "
                        "AND name = 'customers'", {"db": store.database})
    assert "churn_risk" in view and "stale" not in view


def test_insert_nothing_and_unknown_topic(store: ClickHouseStore) -> None:
    store.insert("loyalty.ledger.v1", [])
    assert store.scalar("SELECT count() FROM $db.ledger") == 0
    with pytest.raises(ValueError, match="no ClickHouse table"):
        store.insert("loyalty.nope.v1", [])


def ledger_without(*names: str) -> tuple[AvroCodec, dict[str, Any]]:
    """A codec that knows a LedgerEntry contract without the fields ``names``, and that contract."""
    older = orjson.loads(contract_text("LedgerEntry"))
    older["fields"] = [f for f in older["fields"] if f["name"] not in names]
    registry = EmbeddedRegistry()
    registry.register("loyalty.ledger.v1-value", orjson.dumps(older).decode())
    return AvroCodec(registry), older


def framed(codec: AvroCodec, schema: dict[str, Any], record: dict[str, Any]) -> bytes:
    """A message as a producer with ``schema`` writes it."""
    schema_id = codec._registry.register("loyalty.ledger.v1-value", orjson.dumps(schema).decode())
    body = BytesIO()
    fastavro.schemaless_writer(body, fastavro.parse_schema(schema), record)
    return b"\0" + schema_id.to_bytes(4, "big") + body.getvalue()


def test_a_message_whose_schema_lacks_a_required_field_is_refused_by_name() -> None:
    codec, older = ledger_without("points")
    message = framed(codec, older, ledger(1)[0])
    with pytest.raises(CodecError, match=r"lacks LedgerEntry field\(s\) points"):
        codec.containers([message], "LedgerEntry")
    with pytest.raises(CodecError, match="not Confluent-framed"):
        codec.containers([b"\1" + message[1:]], "LedgerEntry")


def test_a_message_written_before_a_field_existed_gets_the_column_default(store: ClickHouseStore) -> None:
    codec, older = ledger_without("seq", "available_at", "cause")
    store.insert("loyalty.ledger.v1", codec.containers([framed(codec, older, ledger(1)[0])], "LedgerEntry"))
    assert store.rows("SELECT entry_id, points, seq, cause FROM $db.ledger") == [
        {"entry_id": "e0", "points": 0, "seq": 0, "cause": None}]


def test_an_erased_members_rows_are_deleted_and_so_are_those_that_arrive_late(store: ClickHouseStore) -> None:
    store_records(store, "loyalty.ledger.v1", ledger(2, "m1") + [{**row, "entry_id": f"b{n}"}
                                                                  for n, row in enumerate(ledger(1, "m2"))])
    store.forget_erased()  # nobody erased yet: nothing goes
    assert store.scalar("SELECT count() FROM $db.ledger") == 3

    store_records(store, "loyalty.erasures.v1", [{"erasure_id": "x:erased", "member_id": "m1", "event_id": "x",
                                                  "occurred_at": T0}])
    store.forget_erased()
    assert [r["member_id"] for r in store.rows("SELECT member_id FROM $db.ledger FINAL")] == ["m2"]

    store_records(store, "loyalty.ledger.v1", ledger(1, "m1"))  # a row written before the erasure, arriving late
    refused = {"dead_letter_id": "member:x", "stage": "member", "reason": "...", "event_id": "x", "topic": "t",
               "partition": 0, "offset": 0, "key": None, "value": b"m1's event", "recorded_at": T0}
    store_records(store, "loyalty.deadletter.v1", [{**refused, "member_id": "m1"},
                                                   {**refused, "dead_letter_id": "ingest:t:0:1", "member_id": None}])
    store.forget_erased()
    assert [r["member_id"] for r in store.rows("SELECT member_id FROM $db.ledger FINAL")] == ["m2"]
    assert [r["dead_letter_id"] for r in store.rows("SELECT dead_letter_id FROM $db.dead_letters")] == [
        "ingest:t:0:1"]  # the member's refused events go too; one nobody could tell the member of stays


def test_replayed_rows_count_once(store: ClickHouseStore) -> None:
    store.client.command(f"SYSTEM STOP MERGES {quote_ident(store.database)}.ledger")
    rows = ledger(10)
    store_records(store, "loyalty.ledger.v1", rows)
    store_records(store, "loyalty.ledger.v1", rows[3:] + rows[:2])  # a replay, in another insert
    store_records(store, "loyalty.ledger.v1", rows[:1] * 3)  # and within one insert
    raw = store.scalar("SELECT count() FROM $db.ledger")
    assert raw > 10  # the duplicates really are stored, unmerged
    assert len(queries.member_ledger(store, "m1")) == 10
    assert store.scalar("SELECT sum(points) FROM $db.ledger FINAL") == sum(range(10))


def test_triggers_rewards_and_maps(store: ClickHouseStore) -> None:
    trig = {"trigger_id": "t1", "member_id": "m1", "event_id": "ev1", "occurred_at": T0,
            "kind": "near_tier", "message": "150 points to Gold", "attributes": {"next_tier": "gold"}}
    rew = {"reward_id": "r1", "member_id": "m1", "event_id": "ev1", "occurred_at": T0,
           "reward": "free_coffee", "points": -200, "detail": "redeemed"}
    store_records(store, "loyalty.triggers.v1", [trig, trig])
    store_records(store, "loyalty.triggers.v1", [{**trig, "trigger_id": "t2", "attributes": {}}])
    store_records(store, "loyalty.rewards.v1", [rew])
    store_records(store, "loyalty.rewards.v1", [rew])
    got = store.rows("SELECT trigger_id, attributes FROM $db.triggers FINAL ORDER BY trigger_id")
    assert got == [{"trigger_id": "t1", "attributes": {"next_tier": "gold"}},
                   {"trigger_id": "t2", "attributes": {}}]
    got = store.rows("SELECT reward_id, points FROM $db.rewards FINAL")
    assert got == [{"reward_id": "r1", "points": -200}]


def test_connect_embedded(chdb_path: Any, ch_database: str) -> None:
    """connect() on the process's chDB path shares the engine with the session client."""
    from sinks.clickhouse import connect

    s = connect(f"chdb://{chdb_path}", ch_database)
    store_records(s, "loyalty.ledger.v1", ledger(2))
    assert s.scalar("SELECT count() FROM $db.ledger FINAL") == 2


def test_a_reader_is_told_of_a_missing_database_rather_than_given_an_empty_one(
    chdb_path: Any, chdb_client: Any, ch_database: str,
) -> None:
    from sinks.clickhouse import NoDatabase, connect

    with pytest.raises(NoDatabase, match=f"no database '{ch_database}' in ClickHouse at chdb://.*: check "
                                         "LOYALTY_CLICKHOUSE_DATABASE"):
        connect(f"chdb://{chdb_path}", ch_database, existing=True)
    assert chdb_client.command(f"EXISTS DATABASE `{ch_database}`") == 0  # not made

    connect(f"chdb://{chdb_path}", ch_database).close()  # the engine makes it
    chdb_client.command(f"DROP VIEW `{ch_database}`.members")  # as an older engine would have left it
    connect(f"chdb://{chdb_path}", ch_database, existing=True).close()
    assert chdb_client.command(f"EXISTS TABLE `{ch_database}`.members") == 1  # what is missing is added


def test_quote_ident_refuses_odd_names() -> None:
    with pytest.raises(ValueError):
        quote_ident("x`; DROP DATABASE y")


def test_the_location_printed_and_logged_leaves_out_user_and_password() -> None:
    assert location("http://loyalty:CHANGE-ME@clickhouse:8123") == "http://clickhouse:8123"
    assert location("https://reader@ch.example:8443/?secure=1") == "https://ch.example:8443/?secure=1"
    assert location("chdb:///var/lib/loyalty/clickhouse") == "chdb:///var/lib/loyalty/clickhouse"
