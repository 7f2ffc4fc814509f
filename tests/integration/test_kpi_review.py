"""KPI figures checked by hand on small, awkward inputs.

As of 30 June 2026 (00:00 UTC) with 90-day periods: the last period is (1 April 00:00, 30 June 00:00], the
one before (1 January 00:00, 1 April 00:00].
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from grafana_panels import panel_rows
from stored_records import store_records

from processors.program import Program
from sinks import queries
from sinks.clickhouse import ClickHouseStore
from sinks.dashboard import dashboard

AS_OF = dt.datetime(2026, 6, 30, tzinfo=dt.UTC)
PERIOD_START = dt.datetime(2026, 4, 1, tzinfo=dt.UTC)  # AS_OF - 90 days
PROGRAM = Program(name="Test Fashion", currency="SEK", point_value_minor=20)


def day(month: int, dom: int, year: int = 2026) -> dt.datetime:
    return dt.datetime(year, month, dom, 12, tzinfo=dt.UTC)


def sale(event_id: str, member: str, when: dt.datetime, amount: int, kind: str = "purchase") -> dict[str, Any]:
    return {"event_id": event_id, "member_id": member, "occurred_at": when, "event_type": kind, "channel": "pos",
            "store_id": "s1", "currency": "SEK", "amount_minor": amount, "points": amount // 1000,
            "order_id": f"o-{event_id}", "lines": []}


def entry(entry_id: str, member: str, when: dt.datetime, reason: str, points: int) -> dict[str, Any]:
    return {"entry_id": entry_id, "member_id": member, "event_id": f"e-{entry_id}", "occurred_at": when,
            "reason": reason, "points": points, "balance_after": 0, "order_id": None, "line_id": None,
            "detail": reason, "available_at": None}


def stored(chdb_client: Any, database: str, activity: list[dict[str, Any]] = (),  # type: ignore[assignment]
           ledger: list[dict[str, Any]] = ()) -> ClickHouseStore:  # type: ignore[assignment]
    store = ClickHouseStore(chdb_client, database)
    store.ensure_schema()
    for _ in range(2):  # every row replayed: it must count once
        if activity:
            store_records(store, "loyalty.activity.v1", list(activity))
        if ledger:
            store_records(store, "loyalty.ledger.v1", list(ledger))
    return store


def test_the_leaderboard_does_not_count_points_paid_with_or_expired_as_points_unearned(
        chdb_client: Any, ch_database: str) -> None:
    """ann earned 100 points on an order and 20 of them went back with a return: 80 earned, net of returns.
    She paid 80 points towards another order (30 given back when part of it was returned) and 10 points expired:
    spending and expiry are not earning less. bo earned 50. Right: ann 80, bo 50 (not bo 50, ann 20)."""
    store = stored(chdb_client, ch_database, ledger=[
        entry("a1", "ann", day(5, 1), "purchase", 100),
        entry("a2", "ann", day(5, 2), "points_payment", -80),
        entry("a3", "ann", day(5, 3), "points_refund", 30),
        entry("a4", "ann", day(5, 4), "return", -20),
        entry("a5", "ann", day(5, 5), "expiry", -10),
        entry("b1", "bo", day(5, 1), "purchase", 50),
    ])
    shown = panel_rows(store, dashboard(store.database, PROGRAM), AS_OF)  # points earned in [1 April, 30 June]
    assert [(row["member_id"], row["points"]) for row in shown["Leaderboard"]] == [("ann", 80), ("bo", 50)]
    board = queries.leaderboard(store, PERIOD_START, AS_OF)
    assert [(row["member_id"], row["points"]) for row in board] == [("ann", 80), ("bo", 50)]


def test_the_leaderboard_panel_counts_only_points_earned_in_the_time_range(chdb_client: Any,
                                                                          ch_database: str) -> None:
    """Grafana's range is [1 April, 30 June]: ann's 100 points of 1 May are in it; bo's 500 of 5 July are not.
    Right: ann alone, with 100 (not bo first with 500)."""
    store = stored(chdb_client, ch_database, ledger=[entry("a1", "ann", day(5, 1), "purchase", 100),
                                                     entry("b1", "bo", day(7, 5), "purchase", 500)])
    shown = panel_rows(store, dashboard(store.database, PROGRAM), AS_OF)
    assert [(row["member_id"], row["points"]) for row in shown["Leaderboard"]] == [("ann", 100)]


def test_the_redemption_rate_counts_points_paid_with_net_of_those_given_back(chdb_client: Any,
                                                                            ch_database: str) -> None:
    """ann earned 1,000 points, redeemed a 200-point reward, and paid 300 points towards an order, of which a
    return gave 100 back. Points redeemed: 200 + 300 - 100 = 400 of 1,000: 40.00 % (not the reward's 20.00 %)."""
    store = stored(chdb_client, ch_database, ledger=[
        entry("a1", "ann", day(5, 1), "purchase", 1_000),
        entry("a2", "ann", day(5, 2), "redemption", -200),
        entry("a3", "ann", day(5, 3), "points_payment", -300),
        entry("a4", "ann", day(5, 4), "points_refund", 100),
    ])
    assert queries.redemption_rate(store, AS_OF) == {"points_earned": 1_000, "points_redeemed": 400,
                                                     "redemption_rate_bp": 4_000}


def test_a_purchase_at_the_very_start_of_the_period_belongs_to_one_period_for_every_kpi(
        chdb_client: Any, ch_database: str) -> None:
    """ann bought on 10 February and at 00:00 on 1 April, exactly 90 days before the day: the customers view
    calls her lapsed (90 days without a purchase), visit frequency and upsell see no purchase of hers in the last
    period. Churn must agree: she is in the cohort and did not buy again in (1 April, 30 June], so churn is
    100 % (not 0 %), and the last period's customer value has no buyer (not 1 buyer of 500.00 SEK)."""
    store = stored(chdb_client, ch_database, activity=[sale("a1", "ann", day(2, 10), 40_000),
                                                       sale("a2", "ann", PERIOD_START, 50_000)])
    assert queries.churn_risk(store, AS_OF) == {"active": 0, "at_risk": 0, "lapsed": 1}
    assert queries.visit_frequency(store, AS_OF)["buyers"] == 0
    assert queries.churn(store, AS_OF) == {"cohort": 1, "retained": 0, "churned": 1, "churn_rate_bp": 10_000,
                                           "retention_rate_bp": 0}
    [value] = queries.customer_value(store, AS_OF)
    assert (value["period_buyers"], value["period_spend_minor"], value["period_value_minor"]) == (0, 0, 0)


def test_the_projected_customer_value_uses_the_exact_retention_not_rounded_rates(chdb_client: Any,
                                                                                 ch_database: str) -> None:
    """Seven members bought in February; six of them bought again for 1,000.00 SEK each in May. Period value
    1,000.00 SEK, retention 6/7, churn 1/7: m * r / (1 - r) = 1,000.00 * 6 = 6,000.00 SEK exactly (not the
    6,002.10 SEK that 8,571 bp / 1,428 bp give)."""
    store = stored(chdb_client, ch_database, activity=[
        *(sale(f"f{n}", f"m{n}", day(2, 10), 10_000) for n in range(7)),
        *(sale(f"g{n}", f"m{n}", day(5, 10), 100_000) for n in range(6)),
    ])
    [value] = queries.customer_value(store, AS_OF)
    assert (value["period_value_minor"], value["projected_value_minor"]) == (100_000, 600_000)


def test_the_median_gap_between_purchases_is_that_of_the_periods_buyers(chdb_client: Any,
                                                                        ch_database: str) -> None:
    """In the last 90 days only ann bought: twice, 10 days apart. bo's 8-day pace is from January 2025; he has
    lapsed long since. '1 buyer; 10 days between purchases (median)' (not bo's 8)."""
    store = stored(chdb_client, ch_database, activity=[
        sale("a1", "ann", day(6, 1), 10_000), sale("a2", "ann", day(6, 11), 10_000),
        sale("b1", "bo", day(1, 1, 2025), 10_000), sale("b2", "bo", day(1, 9, 2025), 10_000),
    ])
    assert queries.visit_frequency(store, AS_OF) == {"buyers": 1, "purchases": 2, "median_gap_days": 10}
