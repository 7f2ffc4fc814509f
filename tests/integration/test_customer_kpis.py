"""Churn, churn risk, customer value and redemption rate in ClickHouse, on a worked half year.

As of 30 June 2026, with 90-day periods (the last from 1 April, the one before from 1 January):
p1 bought in January, February and June: in the cohort and retained, active. p2 bought in March
and returned a quarter of it: in the cohort, churned, lapsed. p3 bought once in May: at risk
(quiet for two thirds of a period). p4 bought twice in early June: at risk (quiet for more than
twice their pace, at least a week). p5 last bought in December: lapsed, not in the cohort.
p6 buys only after the day: not counted. p7 pays in EUR.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from stored_records import store_records

from sinks import queries
from sinks.clickhouse import ClickHouseStore
from streams.cli import main

AS_OF = dt.datetime(2026, 6, 30, tzinfo=dt.UTC)


def day(month: int, dom: int, year: int = 2026) -> dt.datetime:
    return dt.datetime(year, month, dom, 12, tzinfo=dt.UTC)


def sale(event_id: str, member: str, when: dt.datetime, amount: int, currency: str = "SEK",
         kind: str = "purchase") -> dict[str, Any]:
    return {"event_id": event_id, "member_id": member, "occurred_at": when, "event_type": kind, "channel": "pos",
            "store_id": "s1", "currency": currency, "amount_minor": amount, "points": amount // 1000,
            "order_id": f"o-{event_id}", "lines": []}


def entry(entry_id: str, member: str, when: dt.datetime, reason: str, points: int) -> dict[str, Any]:
    return {"entry_id": entry_id, "member_id": member, "event_id": f"e-{entry_id}", "occurred_at": when,
            "reason": reason, "points": points, "balance_after": 0, "order_id": None, "line_id": None,
            "detail": reason, "available_at": None}


ACTIVITY = [
    sale("a1", "p1", day(1, 10), 10_000), sale("a2", "p1", day(2, 10), 5_000), sale("a3", "p1", day(6, 20), 5_000),
    sale("a4", "p2", day(3, 1), 20_000), sale("a5", "p2", day(3, 5), -5_000, kind="return"),
    sale("a6", "p3", day(5, 1), 4_000),
    sale("a7", "p4", day(6, 1), 3_000), sale("a8", "p4", day(6, 3), 3_000),
    sale("a9", "p5", day(12, 1, 2025), 8_000),
    sale("a10", "p6", day(7, 5), 9_000),
    sale("a11", "p7", day(6, 25), 1_000, currency="EUR"),
    {**sale("a12", "p3", day(1, 2), 0), "event_type": "enrolled", "currency": None},
]
LEDGER = [
    entry("l1", "p1", day(1, 10), "purchase", 100),
    entry("l2", "p1", day(2, 1), "redemption", -50),
    entry("l3", "p1", day(2, 2), "redemption_cancelled", 20),
    entry("l4", "p6", day(7, 5), "purchase", 10),  # after the day
]


@pytest.fixture
def store(chdb_client: Any, ch_database: str) -> Iterator[ClickHouseStore]:
    s = ClickHouseStore(chdb_client, ch_database)
    s.ensure_schema()
    for _ in range(2):  # every row replayed: FINAL must count it once
        store_records(s, "loyalty.activity.v1", ACTIVITY)
        store_records(s, "loyalty.ledger.v1", LEDGER)
    yield s


def test_churn_is_the_share_of_last_periods_buyers_who_did_not_buy_again(store: ClickHouseStore) -> None:
    assert queries.churn(store, AS_OF) == {"cohort": 2, "retained": 1, "churned": 1, "churn_rate_bp": 5_000,
                                           "retention_rate_bp": 5_000}
    monthly = queries.churn(store, AS_OF, period_days=30)  # May's buyers: p3, who has not come back
    assert (monthly["cohort"], monthly["churned"], monthly["churn_rate_bp"]) == (1, 1, 10_000)
    assert queries.churn(store, day(1, 1, 2020))["cohort"] == 0


def test_each_buyer_has_a_churn_risk_by_their_own_pace(store: ClickHouseStore) -> None:
    assert queries.churn_risk(store, AS_OF) == {"active": 2, "at_risk": 2, "lapsed": 2}
    rows = store.rows("SELECT member_id, purchases, days_since_last_purchase, usual_gap_days, churn_risk "
                      "FROM $db.customers(as_of = {as_of:DateTime64(3, 'UTC')}, period_days = 90) ORDER BY member_id",
                      {"as_of": AS_OF})
    assert [tuple(r.values()) for r in rows] == [
        ("p1", 3, 9, 80, "active"),
        ("p2", 1, 120, None, "lapsed"),
        ("p3", 1, 59, None, "at_risk"),
        ("p4", 2, 26, 7, "at_risk"),
        ("p5", 1, 210, None, "lapsed"),
        ("p7", 1, 4, None, "active"),
    ]


def test_customer_value_so_far_per_period_and_projected(store: ClickHouseStore) -> None:
    assert queries.customer_value(store, AS_OF, queries.churn(store, AS_OF)) == [
        {"currency": "EUR", "buyers": 1, "net_spend_minor": 1_000, "value_so_far_minor": 1_000, "period_buyers": 1,
         "period_spend_minor": 1_000, "period_value_minor": 1_000, "projected_value_minor": 1_000},
        {"currency": "SEK", "buyers": 5, "net_spend_minor": 53_000, "value_so_far_minor": 10_600, "period_buyers": 3,
         "period_spend_minor": 15_000, "period_value_minor": 5_000, "projected_value_minor": 5_000},
    ]
    early = queries.customer_value(store, day(2, 1), queries.churn(store, day(2, 1)))  # no churn yet: no projection
    assert [(r["currency"], r["buyers"], r["projected_value_minor"]) for r in early] == [("SEK", 2, None)]


def test_redemption_rate_counts_points_spent_net_of_cancellations(store: ClickHouseStore) -> None:
    assert queries.redemption_rate(store, AS_OF) == {"points_earned": 100, "points_redeemed": 30,
                                                     "redemption_rate_bp": 3_000}
    assert queries.latest_event_time(store) == day(7, 5)


def test_loyalty_kpis_prints_them_in_words_as_of_a_day(store: ClickHouseStore, chdb_path: Path) -> None:
    env = {"LOYALTY_CLICKHOUSE_DSN": f"chdb://{chdb_path}", "LOYALTY_CLICKHOUSE_DATABASE": store.database}
    result = CliRunner().invoke(main, ["kpis", "--as-of", "2026-06-30", "--json"], env=env)

    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["KPI: churn (90 days)"] == ("50.00 % of the 2 who bought in the 90 days before the last 90 did not "
                                               "buy again (retention 50.00 %)")
    assert figures["KPI: churn risk"] == "active 2, at risk 2, lapsed 2"
    assert figures["KPI: customer value (CLV)"] == (
        "10.00 EUR a buyer so far, 10.00 EUR in the last 90 days, 10.00 EUR projected; "
        "106.00 SEK a buyer so far, 50.00 SEK in the last 90 days, 50.00 SEK projected")
    assert figures["KPI: redemption rate"] == "30.00 % of 100 points earned"
    assert figures["as of"] == "2026-06-30 00:00 UTC"

    latest = json.loads(CliRunner().invoke(main, ["kpis", "--json"], env=env).output)
    assert latest["as of"] == "2026-07-05 12:00 UTC"  # the latest event's time
