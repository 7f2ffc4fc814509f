"""Every analytics query against a small, realistic program, with every output replayed.

Story (EUR unless said): m1 enrols, links a card, buys books+toys on the web (o1),
books in store (o2), returns the toys; m1 reaches silver. m2 enrols, buys toys for
20.01 (o3), refers a friend, goes silver then gold. m3 only enrols. m4 buys garden
tools in USD with no channel and never enrolled. Two inputs were dead-lettered.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from stored_records import store_records

from sinks import queries
from sinks.clickhouse import ClickHouseStore
from streams.cli import main
from streams.embedded import free_ports

BASE = "bronze"
T0 = dt.datetime(2025, 3, 1, 9, 0, tzinfo=dt.UTC)


PENDING_FOR_DECADES = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)  # a pending purchase, whenever the test runs
LATER = dt.datetime(2025, 4, 1, tzinfo=dt.UTC)  # after every event of the story


def at(hours: float) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours)


def line(line_id: str, sku: str, category: str, qty: int, amount: int, points: int) -> dict[str, Any]:
    return {"line_id": line_id, "sku": sku, "category": category, "quantity": qty,
            "amount_minor": amount, "points": points}


def act(event_id: str, member: str, hours: float, kind: str, *, channel: str | None = None,
        currency: str | None = None, amount: int = 0, points: int = 0, order: str | None = None,
        lines: tuple[dict[str, Any], ...] = ()) -> dict[str, Any]:
    return {"event_id": event_id, "member_id": member, "occurred_at": at(hours), "event_type": kind,
            "channel": channel, "store_id": "s9" if channel == "store" else None, "currency": currency,
            "amount_minor": amount, "points": points, "order_id": order, "lines": list(lines)}


def led(entry_id: str, member: str, event_id: str, hours: float, reason: str, points: int, balance: int,
        order: str | None = None, line_id: str | None = None, available_at: dt.datetime | None = None,
        ) -> dict[str, Any]:
    return {"entry_id": entry_id, "member_id": member, "event_id": event_id, "occurred_at": at(hours),
            "reason": reason, "points": points, "balance_after": balance, "order_id": order,
            "line_id": line_id, "detail": f"{reason}: {points} points", "available_at": available_at}


def tier(change_id: str, member: str, hours: float, frm: str, to: str, spend: int) -> dict[str, Any]:
    return {"change_id": change_id, "member_id": member, "event_id": f"ev-{change_id}",
            "occurred_at": at(hours), "from_tier": frm, "to_tier": to, "qualifying_spend_minor": spend,
            "reason": "qualifying spend"}


ACTIVITY = [
    act("a1", "m1", 0, "enrolled"),
    act("a2", "m1", 0.5, "card_linked"),
    act("a3", "m1", 1, "purchase", channel="web", currency="EUR", amount=10_000, points=100, order="o1",
        lines=(line("o1-1", "B-1", "books", 1, 6_000, 60), line("o1-2", "T-7", "toys", 2, 4_000, 40))),
    act("a4", "m1", 3, "purchase", channel="store", currency="EUR", amount=5_000, points=50, order="o2",
        lines=(line("o2-1", "B-2", "books", 1, 5_000, 50),)),
    act("a5", "m1", 4, "return", channel="web", currency="EUR", amount=-4_000, points=-40, order="o1",
        lines=(line("o1-2", "", "", -2, -4_000, -40),)),  # as processors.returns writes it: no sku, no category
    act("a6", "m2", 0, "enrolled"),
    act("a7", "m2", 2, "purchase", channel="web", currency="EUR", amount=2_001, points=20, order="o3",
        lines=(line("o3-1", "T-9", "toys", 1, 2_001, 20),)),
    act("a8", "m2", 6, "referral"),
    act("a9", "m3", 0, "enrolled"),
    act("a10", "m4", 5, "purchase", currency="USD", amount=3_000, points=30, order="o4",
        lines=(line("o4-1", "G-1", "garden", 3, 3_000, 30),)),
]
LEDGER = [
    led("l1", "m1", "a1", 0, "welcome", 100, 100),
    led("l2", "m1", "a3", 1, "purchase", 60, 160, "o1", "o1-1"),
    led("l3", "m1", "a3", 1, "purchase", 40, 200, "o1", "o1-2"),
    led("l4", "m1", "a4", 3, "purchase", 50, 250, "o2", "o2-1"),
    led("l5", "m1", "a5", 4, "return", -40, 210, "o1", "o1-2"),
    led("l6", "m2", "a6", 0, "welcome", 100, 100),
    led("l7", "m2", "a7", 2, "purchase", 20, 120, "o3", "o3-1", PENDING_FOR_DECADES),
    led("l8", "m3", "a9", 0, "welcome", 100, 100),
    led("l9", "m4", "a10", 5, "purchase", 30, 30, "o4", "o4-1"),
]
TIERS = [
    tier("c3", "m2", 7, "silver", "gold", 60_000),  # listed first: the latest by time must win
    tier("c1", "m1", 3, BASE, "silver", 15_000),
    tier("c2", "m2", 2, BASE, "silver", 30_000),
]
DEAD = [
    {"dead_letter_id": "events/0/17", "stage": "ingest", "reason": "card number in field note (masked)",
     "event_id": None, "topic": "loyalty.events.v1", "partition": 0, "offset": 17,
     "key": None, "value": b"\x00\x00\x00\x00\x01\xff****1111", "recorded_at": at(1)},
    {"dead_letter_id": "member/a99", "stage": "member", "reason": "unknown member for card token",
     "event_id": "a99", "topic": "loyalty.member-batches.v1", "partition": 2, "offset": 5,
     "key": b"tok-42", "value": b"{}", "recorded_at": at(2)},
]
REWARDS = [
    {"reward_id": "a7:badge:three_in_a_week", "member_id": "m2", "event_id": "a7", "occurred_at": at(2),
     "reward": "regular", "points": 30, "detail": "Challenge done"},
    {"reward_id": "a1:welcome_bonus", "member_id": "m1", "event_id": "a1", "occurred_at": at(0),
     "reward": "welcome_bonus", "points": 100, "detail": "Welcome"},
]
TRIGGERS = [
    {"trigger_id": f"{event_id}:{kind}", "member_id": member, "event_id": event_id, "occurred_at": at(hours),
     "kind": kind, "message": "...", "attributes": {}}
    for event_id, member, hours, kind in [("a1", "m1", 0, "welcome"), ("a6", "m2", 0, "welcome"),
                                          ("a9", "m3", 0, "welcome"), ("a7", "m2", 2, "near_tier"),
                                          ("a3", "m1", 1, "reward_unlocked")]]
BATCHES = {
    "loyalty.activity.v1": ACTIVITY,
    "loyalty.triggers.v1": TRIGGERS,
    "loyalty.rewards.v1": REWARDS,
    "loyalty.ledger.v1": LEDGER,
    "loyalty.tiers.v1": TIERS,
    "loyalty.deadletter.v1": DEAD,
}


@pytest.fixture
def store(chdb_client: Any, ch_database: str) -> Iterator[ClickHouseStore]:
    s = ClickHouseStore(chdb_client, ch_database)
    s.ensure_schema()
    s.client.command(f"SYSTEM STOP MERGES `{ch_database}`")  # keep duplicates on disk: FINAL must do the work
    for topic, records in BATCHES.items():
        store_records(s, topic, records)
    for topic, records in BATCHES.items():  # the whole output replayed, plus one row twice in one batch
        store_records(s, topic, [*records, records[0]])
    s.ensure_schema()  # again, with data: still fine
    yield s


def test_duplicates_are_on_disk(store: ClickHouseStore) -> None:
    assert store.scalar("SELECT count() FROM $db.ledger") > len(LEDGER)
    assert store.scalar("SELECT count() FROM $db.activity") > len(ACTIVITY)


def test_member_ledger(store: ClickHouseStore) -> None:
    got = queries.member_ledger(store, "m1")
    assert [(r["entry_id"], r["points"], r["balance_after"]) for r in got] == [
        ("l1", 100, 100), ("l2", 60, 160), ("l3", 40, 200), ("l4", 50, 250), ("l5", -40, 210)]
    assert got[4] == {
        "entry_id": "l5", "event_id": "a5", "occurred_at": at(4), "reason": "return", "points": -40,
        "balance_after": 210, "running_balance": 210, "order_id": "o1", "line_id": "o1-2",
        "detail": "return: -40 points"}
    assert sum(r["points"] for r in got) == got[-1]["balance_after"]
    assert [r["running_balance"] for r in got] == [100, 160, 200, 250, 210]
    assert queries.member_ledger(store, "nobody") == []


def test_member_pending(store: ClickHouseStore) -> None:
    assert queries.member_pending(store, "m2") == [{"day": PENDING_FOR_DECADES.date(), "points": 20}]
    # Midnight UTC on New Year's Day 2100 is still 31 December 2099 in New York.
    assert queries.member_pending(store, "m2", "America/New_York") == [
        {"day": dt.date(2099, 12, 31), "points": 20}]
    assert queries.member_pending(store, "m1") == []  # bought long ago: spendable


def test_member_summary(store: ClickHouseStore) -> None:
    assert queries.member_summary(store, "m1", BASE) == {
        "member_id": "m1", "tier": "silver", "balance": 210, "lifetime_points": 250, "pending_points": 0,
        "ledger_entries": 5,
        "purchases": 2, "returns": 1, "spend_minor": {"EUR": 11_000}, "enrolled": True,
        "last_activity_at": at(4)}
    m2 = queries.member_summary(store, "m2", BASE)
    assert m2 is not None
    assert (m2["tier"], m2["balance"], m2["pending_points"], m2["spend_minor"]) == ("gold", 120, 20, {"EUR": 2_001})
    m3 = queries.member_summary(store, "m3", BASE)
    assert m3 is not None
    assert (m3["tier"], m3["balance"], m3["purchases"], m3["spend_minor"]) == (BASE, 100, 0, {})
    m4 = queries.member_summary(store, "m4", "blue")  # the base tier is a parameter
    assert m4 is not None
    assert (m4["tier"], m4["enrolled"], m4["spend_minor"]) == ("blue", False, {"USD": 3_000})
    assert queries.member_summary(store, "nobody", BASE) is None


def test_program_summary(store: ClickHouseStore) -> None:
    assert queries.program_summary(store, BASE, LATER) == {
        "members": 3,
        "known_members": 4,
        "points_issued": 500,
        "points_outstanding": 460,
        "members_per_tier": {BASE: 2, "gold": 1, "silver": 1},
        "dead_letters": 2,
        "events_accepted": 10,
    }


def test_the_program_summary_and_the_order_figures_read_as_of_a_time(store: ClickHouseStore) -> None:
    """At 11:30, two and a half hours in: m1, m2 and m3 had enrolled; 420 points were issued (m1's welcome 100 and
    o1's 60 and 40, m2's welcome 100 and o3's 20, m3's welcome 100), none spent or taken back yet; 6 events accepted
    (a1, a2, a3, a6, a7, a9). Tiers and dead letters are as they are now."""
    early = at(2.5)
    assert queries.program_summary(store, BASE, early) == {
        "members": 3, "known_members": 4, "points_issued": 420, "points_outstanding": 420,
        "members_per_tier": {BASE: 2, "gold": 1, "silver": 1}, "dead_letters": 2, "events_accepted": 6}
    # o1 (100.00) and o3 (20.01) on the web: 60.00 an order (rounded down); o2 in store and the return came later
    assert queries.average_order_value(store, early) == [
        {"channel": "web", "currency": "EUR", "orders": 2, "revenue_minor": 12_001, "aov_minor": 6_000}]
    assert queries.repeat_purchase_rate(store, early) == {"buyers": 2, "repeat_buyers": 0, "rate_bp": 0}
    assert queries.top_categories(store, early) == [  # toys lead before they were returned
        {"category": "toys", "currency": "EUR", "spend_minor": 6_001, "points": 60, "orders": 2},
        {"category": "books", "currency": "EUR", "spend_minor": 6_000, "points": 60, "orders": 1}]
    assert queries.triggers_by_kind(store, at(0.5)) == {"welcome": 3}


def test_the_tier_is_the_last_change_applied_even_when_its_event_is_older(chdb_client: Any,
                                                                          ch_database: str) -> None:
    s = ClickHouseStore(chdb_client, ch_database)
    s.ensure_schema()
    store_records(s, "loyalty.tiers.v1", [{**tier("k1", "m7", 5, BASE, "silver", 50_000), "number": 1},
                                          {**tier("k2", "m7", 4, "silver", "gold", 100_000), "number": 2}])

    summary = queries.member_summary(s, "m7", BASE)
    assert summary is not None and summary["tier"] == "gold"


def test_points_given_back_are_not_counted_as_earned(chdb_client: Any, ch_database: str) -> None:
    s = ClickHouseStore(chdb_client, ch_database)
    s.ensure_schema()
    store_records(s, "loyalty.ledger.v1", [led("x1", "m9", "e1", 0, "purchase", 100, 100),
                                   led("x2", "m9", "e2", 1, "redemption", -60, 40),
                                   led("x3", "m9", "e3", 2, "redemption_cancelled", 60, 100),
                                   led("x4", "m9", "e4", 3, "points_payment", -30, 70, "o9"),
                                   led("x5", "m9", "e5", 4, "points_refund", 30, 100, "o9")])

    summary = queries.member_summary(s, "m9", BASE)
    assert summary is not None and (summary["balance"], summary["lifetime_points"]) == (100, 100)


def test_program_summary_empty(chdb_client: Any, ch_database: str) -> None:
    s = ClickHouseStore(chdb_client, ch_database)
    s.ensure_schema()
    assert queries.program_summary(s, BASE, LATER) == {
        "members": 0, "known_members": 0, "points_issued": 0, "points_outstanding": 0,
        "members_per_tier": {}, "dead_letters": 0, "events_accepted": 0}
    assert queries.repeat_purchase_rate(s, LATER) == {"buyers": 0, "repeat_buyers": 0, "rate_bp": 0}
    assert queries.average_order_value(s, LATER) == []
    assert queries.top_categories(s, LATER) == []


def test_triggers_by_kind_count_each_once_most_first(store: ClickHouseStore) -> None:
    assert queries.triggers_by_kind(store, LATER) == {"welcome": 3, "near_tier": 1, "reward_unlocked": 1}


def test_average_order_value(store: ClickHouseStore) -> None:
    assert queries.average_order_value(store, LATER) == [
        {"channel": "web", "currency": "EUR", "orders": 2, "revenue_minor": 12_001, "aov_minor": 6_000},
        {"channel": "store", "currency": "EUR", "orders": 1, "revenue_minor": 5_000, "aov_minor": 5_000},
        {"channel": None, "currency": "USD", "orders": 1, "revenue_minor": 3_000, "aov_minor": 3_000},
    ]


def test_repeat_purchase_rate(store: ClickHouseStore) -> None:
    assert queries.repeat_purchase_rate(store, LATER) == {"buyers": 3, "repeat_buyers": 1, "rate_bp": 3_333}


def test_top_categories(store: ClickHouseStore) -> None:
    assert queries.top_categories(store, LATER) == [
        {"category": "books", "currency": "EUR", "spend_minor": 11_000, "points": 110, "orders": 2},
        {"category": "garden", "currency": "USD", "spend_minor": 3_000, "points": 30, "orders": 1},
        {"category": "toys", "currency": "EUR", "spend_minor": 2_001, "points": 20, "orders": 2},
    ]
    assert [r["category"] for r in queries.top_categories(store, LATER, limit=1)] == ["books"]


def test_a_returned_line_counts_against_the_category_it_was_sold_in(chdb_client: Any, ch_database: str) -> None:
    """Anna buys a 1,299 kr dress and 49 kr delivery (order W1), then returns the dress; Ben buys a 399 kr dress
    with the same line id in his own order W2. Dresses net 1,299 - 1,299 + 399 = 399 kr, delivery 49 kr."""
    s = ClickHouseStore(chdb_client, ch_database)
    s.ensure_schema()
    store_records(s, "loyalty.activity.v1", [
        act("p1", "anna", 0, "purchase", channel="web", currency="SEK", amount=134_800, points=1_348, order="W1",
            lines=(line("1", "DRE-42", "dresses", 1, 129_900, 1_299), line("2", "DEL", "delivery", 1, 4_900, 49))),
        act("p2", "ben", 1, "purchase", channel="web", currency="SEK", amount=39_900, points=399, order="W2",
            lines=(line("1", "DRE-7", "dresses", 1, 39_900, 399),)),
        act("r1", "anna", 2, "return", channel="web", currency="SEK", amount=-129_900, points=-1_299, order="W1",
            lines=(line("1", "", "", -1, -129_900, -1_299),)),
    ])
    assert queries.top_categories(s, LATER) == [
        {"category": "dresses", "currency": "SEK", "spend_minor": 39_900, "points": 399, "orders": 2},
        {"category": "delivery", "currency": "SEK", "spend_minor": 4_900, "points": 49, "orders": 1},
    ]


def test_points_liability_by_tier(store: ClickHouseStore) -> None:
    got = queries.points_liability_by_tier(store, BASE)
    assert got == [
        {"tier": "silver", "members": 1, "points_outstanding": 210},
        {"tier": BASE, "members": 2, "points_outstanding": 130},
        {"tier": "gold", "members": 1, "points_outstanding": 120},
    ]
    total = queries.program_summary(store, BASE, LATER)["points_outstanding"]
    assert sum(r["points_outstanding"] for r in got) == total


def test_purchases_view(store: ClickHouseStore) -> None:
    rows = store.rows("SELECT event_id, amount_minor, line_category FROM $db.purchases ORDER BY event_id")
    assert [(r["event_id"], r["amount_minor"]) for r in rows] == [
        ("a10", 3_000), ("a3", 10_000), ("a4", 5_000), ("a5", -4_000), ("a7", 2_001)]
    assert rows[1]["line_category"] == ["books", "toys"]


def test_dead_letters_keep_bytes(store: ClickHouseStore) -> None:
    got = queries.dead_letters(store)
    assert [r["dead_letter_id"] for r in got] == ["member/a99", "events/0/17"]
    assert got[0]["key"] == b"tok-42"
    assert got[1]["key"] is None
    assert got[1]["value"] == b"\x00\x00\x00\x00\x01\xff****1111"
    assert got[1]["recorded_at"] == at(1)


def test_dead_letters_of_one_stage_or_with_a_reason_latest_first(store: ClickHouseStore) -> None:
    def ids(**filters: Any) -> list[str]:
        return [r["dead_letter_id"] for r in queries.dead_letters(store, **filters)]

    assert ids(stage="ingest") == ["events/0/17"] and ids(stage="sink") == []
    assert ids(reason="UNKNOWN member") == ["member/a99"]
    assert ids(reason="unknown", stage="ingest") == []
    assert ids(limit=1) == ["member/a99"]


def test_dead_letters_whose_events_were_applied_since_are_left_out_unless_asked_for(store: ClickHouseStore) -> None:
    unreadable_output = {**DEAD[1], "dead_letter_id": "sink/ledger/0/3", "stage": "sink", "event_id": "a3",
                         "recorded_at": at(3)}  # its event was applied: the sink's letter is about the output
    store_records(store, "loyalty.deadletter.v1", [unreadable_output])
    store_records(store, "loyalty.activity.v1", [act("a99", "m5", 3, "purchase")])  # a99 was sent again, fixed

    assert [r["dead_letter_id"] for r in queries.dead_letters(store)] == ["sink/ledger/0/3", "events/0/17"]
    every = queries.dead_letters(store, include_applied=True)
    assert [(r["dead_letter_id"], r["applied"]) for r in every] == [
        ("sink/ledger/0/3", False), ("member/a99", True), ("events/0/17", False)]
    assert queries.program_summary(store, BASE, LATER)["dead_letters"] == 2  # those listed


def test_the_leaderboard_ranks_points_earned_since_a_time_with_badges(store: ClickHouseStore) -> None:
    board = queries.leaderboard(store, at(0.5), LATER, limit=3)

    assert [(r["member_id"], r["points"], r["badges"]) for r in board] == [
        ("m1", 110, []), ("m4", 30, []), ("m2", 20, ["regular"])]


def test_loyalty_member_and_simulate_read_the_member_from_clickhouse(store: ClickHouseStore, chdb_path: Path,
                                                                     tmp_path: Path) -> None:
    program = tmp_path / "program.yaml"
    program.write_text("name: P\ncurrency: EUR\ntime_zone: America/New_York\nearn: {points: 1, per_amount_minor: 100}\n"
                       "tiers:\n  - {name: bronze}\n"
                       "  - {name: silver, qualifying_spend_minor: 10000, earn_multiplier_bp: 20000}\n")
    env = {"LOYALTY_CLICKHOUSE_DSN": f"chdb://{chdb_path}", "LOYALTY_CLICKHOUSE_DATABASE": store.database,
           "LOYALTY_PROGRAM_FILE": str(program)}
    runner = CliRunner()

    shown = runner.invoke(main, ["member", "m2"], env=env)
    simulated = runner.invoke(main, ["simulate", "--member", "m2", "--line", "books:10.00", "--json"], env=env)
    unknown = runner.invoke(main, ["simulate", "--member", "nobody", "--line", "books:10.00"], env=env)

    assert shown.exit_code == 0, shown.output
    said = " ".join(shown.output.split())
    # pending days and ledger times as the program's members count them: New York's
    assert "m2 tier gold balance 120 points (20 pending: 20 from 2099-12-31)" in said
    welcomed = at(0).astimezone(ZoneInfo("America/New_York"))
    assert "when (America/New_York)" in said and f"{welcomed:%Y-%m-%d %H:%M:%S} │ welcome │ +100" in said
    assert simulated.exit_code == 0, simulated.output
    answer = json.loads(simulated.stdout)
    # gold is no longer a tier of the program: m2 earns at the base tier's rate, and the answer says so
    assert (answer["tier"], answer["balance_before"], answer["points"]) == ("bronze", 120, 10)
    assert "m2's tier gold is not a tier of P: simulated at its base tier bronze" in simulated.stderr
    words = runner.invoke(main, ["simulate", "--member", "m2", "--line", "books:10.00"], env=env)
    assert words.stdout.startswith("+10 points for m2 in tier bronze (balance 120 -> 130)"), words.output
    assert unknown.exit_code == 1 and "no member 'nobody'" in unknown.output

    unknown_json = runner.invoke(main, ["member", "nobody", "--json"], env=env)
    assert unknown_json.exit_code == 1
    assert json.loads(unknown_json.stdout) == {"error": f"no member 'nobody' in ClickHouse database {store.database}"}


def test_loyalty_simulate_reads_the_members_segments_and_campaign_points_from_clickhouse(
        store: ClickHouseStore, chdb_path: Path, tmp_path: Path) -> None:
    program = tmp_path / "program.yaml"
    program.write_text("name: P\ncurrency: EUR\nearn: {points: 1, per_amount_minor: 100}\ntiers: [{name: bronze}]\n"
                       "campaigns:\n  - {id: vip, name: VIP, starts: 2000-01-01T00:00:00Z, ends: 2100-01-01T00:00:00Z,"
                       " bonus_points: 50, member_budget_points: 80, target: {segments: [vip]}}\n")
    store_records(store, "loyalty.activity.v1", [{**act("s1", "m2", 1, "segments"), "segments": ["vip"]},
                                                 {**act("s0", "m2", 0.5, "segments"), "segments": []}])
    store_records(store, "loyalty.ledger.v1", [led("a7:campaign:vip", "m2", "a7", 2, "campaign", 50, 170, "o3")])
    env = {"LOYALTY_CLICKHOUSE_DSN": f"chdb://{chdb_path}", "LOYALTY_CLICKHOUSE_DATABASE": store.database,
           "LOYALTY_PROGRAM_FILE": str(program)}

    simulated = CliRunner().invoke(main, ["simulate", "--member", "m2", "--line", "books:10.00", "--json"], env=env)

    assert simulated.exit_code == 0, simulated.output
    answer = json.loads(simulated.stdout)  # a note on stderr may come first
    assert (answer["balance_before"], answer["points"]) == (170, 10 + 30)  # in vip, 50 of its 80 had already


def test_a_clickhouse_server_that_does_not_answer_gets_an_error_that_says_what_to_do(tmp_path: Path) -> None:
    port = free_ports(1)  # nothing listens there
    env = {"LOYALTY_CLICKHOUSE_DSN": f"http://reader:secret@127.0.0.1:{port}", "LOYALTY_DATA_DIR": str(tmp_path)}

    shown = CliRunner().invoke(main, ["member", "m2"], env=env)

    assert shown.exit_code == 1
    said = " ".join(shown.output.split())
    assert f"ClickHouse at http://127.0.0.1:{port} does not answer (OperationalError: " in said
    assert "point LOYALTY_CLICKHOUSE_DSN at one that runs" in said and "secret" not in said


def test_loyalty_deadletters_lists_the_reasons_latest_first(store: ClickHouseStore, chdb_path: Path) -> None:
    env = {"LOYALTY_CLICKHOUSE_DSN": f"chdb://{chdb_path}", "LOYALTY_CLICKHOUSE_DATABASE": store.database}
    runner = CliRunner()

    for limit in ("-1", "0"):
        refused = runner.invoke(main, ["deadletters", "--limit", limit], env=env)
        assert refused.exit_code == 2 and "Invalid value for '--limit'" in refused.output, refused.output
    listed = runner.invoke(main, ["deadletters"], env={**env, "COLUMNS": "200"})
    ingest_only = runner.invoke(main, ["deadletters", "--stage", "ingest", "--json"], env=env)

    assert listed.exit_code == 0, listed.output
    rows = [line for line in listed.output.splitlines() if "2025-03-01" in line]
    assert "a99" in rows[0] and "unknown member for card token" in rows[0]
    assert "card number in field note (masked)" in rows[1]
    assert ingest_only.exit_code == 0, ingest_only.output
    [letter] = json.loads(ingest_only.output)
    assert (letter["dead_letter_id"], base64.b64decode(letter["value"])) == (
        "events/0/17", b"\x00\x00\x00\x00\x01\xff****1111")


def test_events_refused_before_their_members_enrolment_come_oldest_first_saying_whether_it_came(
        store: ClickHouseStore) -> None:
    def refused(event_id: str, member_id: str, hours: float, reason: str = "unknown member ") -> dict[str, Any]:
        return {"dead_letter_id": f"member:{event_id}", "stage": "member",
                "reason": f"{reason}{member_id}: not enrolled", "event_id": event_id, "member_id": member_id,
                "topic": "loyalty.member-batches.v1", "partition": 1,
                "offset": int(hours * 10), "key": member_id.encode(), "value": b"avro", "recorded_at": at(hours)}

    store_records(store, "loyalty.deadletter.v1", [
        refused("r1", "m3", 0.6),  # m3's return, refused after its purchase
        refused("p1", "m3", 0.5),
        refused("p2", "m4", 0.55),  # m4 never enrolled
        refused("a10", "m3", 0.4),  # applied since (sent again)
        refused("x1", "m3", 0.7, reason="order o9 not found for member "),
    ])

    letters = queries.refused_before_enrolment(store, "unknown member ")

    assert [(x["event_id"], x["enrolled"], x["key"], x["value"]) for x in letters] == [
        ("p1", True, b"m3", b"avro"), ("p2", False, b"m4", b"avro"), ("r1", True, b"m3", b"avro")]


def test_card_transactions_refused_for_an_unknown_card_come_oldest_first(store: ClickHouseStore) -> None:
    def refused(event_id: str, hours: float, reason: str = "unknown card_token in Purchase") -> dict[str, Any]:
        return {"dead_letter_id": f"ingest:{event_id}", "stage": "ingest", "reason": f"{reason} {event_id}",
                "event_id": event_id, "member_id": None, "topic": "loyalty.events.v1", "partition": 0,
                "offset": int(hours * 10), "key": b"bank", "value": b"avro", "recorded_at": at(hours)}

    store_records(store, "loyalty.deadletter.v1", [
        refused("b2", 0.6),
        refused("b1", 0.5),
        refused("a10", 0.4),  # applied since (sent again once the card was linked)
        refused("b3", 0.7, reason="invalid Purchase: no lines"),
    ])

    letters = queries.refused_unknown_card(store, "unknown card_token")

    assert [(x["event_id"], x["key"], x["value"]) for x in letters] == [("b1", b"bank", b"avro"),
                                                                       ("b2", b"bank", b"avro")]
