"""Churn, churn risk, customer value and redemption rate in ClickHouse, on a worked half year.

As of 30 June 2026, with 90-day periods (the last from 1 April, the one before from 1 January):
p1 bought in January, February and June: in the cohort and retained, active. p2 bought in March
and returned a quarter of it: in the cohort, churned, lapsed. p3 bought once in May: at risk
(quiet for two thirds of a period). p4 bought twice in early June: at risk (quiet for more than
twice their pace, at least a week). p5 last bought in December: lapsed, not in the cohort.
p6 buys only after the day: not counted. p7 pays in EUR.

Survey answers in the last 90 days, each member's latest: p1 10 (after a 4), p4 9 (twice):
promoters; p3 8: passive; p2 6: detractor; p5's 0 in January is too old. p1 is in the vip
segment (no longer in stockholm), p2 in stockholm; p1 reached Gold.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from grafana_panels import panel_rows
from stored_records import store_records

from sinks import queries
from sinks.clickhouse import ClickHouseStore
from sinks.dashboard import dashboard
from streams.cli import main
from streams.program_file import parse_program
from streams.reports import kpi_figures, kpi_lines

AS_OF = dt.datetime(2026, 6, 30, tzinfo=dt.UTC)
PERIOD_START = dt.datetime(2026, 4, 1, tzinfo=dt.UTC)  # AS_OF - 90 days: the last period is (PERIOD_START, AS_OF]
PROGRAM = """
name: Test Fashion
currency: SEK
tiers: [{name: Member}, {name: Gold, qualifying_spend_minor: 100000}]
point_value_minor: 20
"""
PROGRAM_RULES = parse_program(PROGRAM, "a test program")


def day(month: int, dom: int, year: int = 2026) -> dt.datetime:
    return dt.datetime(year, month, dom, 12, tzinfo=dt.UTC)


def sale(event_id: str, member: str, when: dt.datetime, amount: int, currency: str = "SEK",
         kind: str = "purchase") -> dict[str, Any]:
    return {"event_id": event_id, "member_id": member, "occurred_at": when, "event_type": kind, "channel": "pos",
            "store_id": "s1", "currency": currency, "amount_minor": amount, "points": amount // 1000,
            "order_id": f"o-{event_id}", "lines": []}


def answer(event_id: str, member: str, when: dt.datetime, score: int) -> dict[str, Any]:
    return {**sale(event_id, member, when, 0), "event_type": "survey", "channel": None, "store_id": None,
            "currency": None, "order_id": None, "points": 0, "survey": "nps", "score": score}


def segments(event_id: str, member: str, when: dt.datetime, names: list[str]) -> dict[str, Any]:
    return {**answer(event_id, member, when, 0), "event_type": "segments", "survey": None, "score": None,
            "segments": names}


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
    *(answer(f"s{n}", member, when, score) for n, (member, when, score) in enumerate([
        ("p1", day(4, 10), 4), ("p1", day(6, 1), 10), ("p2", day(5, 15), 6), ("p3", day(6, 10), 8),
        ("p4", day(6, 2), 9), ("p4", day(6, 5), 9), ("p5", day(1, 20), 0)])),
    segments("g1", "p1", day(1, 5), ["stockholm", "vip"]), segments("g2", "p1", day(3, 1), ["vip"]),
    segments("g3", "p2", day(2, 1), ["stockholm"]),
]
TIER_CHANGES = [{"change_id": "t1", "member_id": "p1", "event_id": "a3", "occurred_at": day(6, 20),
                 "from_tier": "Member", "to_tier": "Gold", "qualifying_spend_minor": 20_000, "reason": "spend",
                 "number": 1}]
LEDGER = [
    entry("l1", "p1", day(1, 10), "purchase", 100),
    entry("l2", "p1", day(2, 1), "redemption", -50),
    entry("l3", "p1", day(2, 2), "redemption_cancelled", 20),
    entry("l4", "p6", day(7, 5), "purchase", 10),  # after the day
]

TRIGGERS = [{"trigger_id": f"t{n}:{kind}", "member_id": f"p{n}", "event_id": f"t{n}", "occurred_at": AS_OF,
             "kind": kind, "message": "...", "attributes": {}}
            for n, kind in enumerate(["welcome", "welcome", "reward_unlocked"])]


@pytest.fixture
def store(chdb_client: Any, ch_database: str) -> Iterator[ClickHouseStore]:
    s = ClickHouseStore(chdb_client, ch_database)
    s.ensure_schema()
    for _ in range(2):  # every row replayed: FINAL must count it once
        store_records(s, "loyalty.activity.v1", ACTIVITY)
        store_records(s, "loyalty.ledger.v1", LEDGER)
        store_records(s, "loyalty.tiers.v1", TIER_CHANGES)
        store_records(s, "loyalty.triggers.v1", TRIGGERS)
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
    assert queries.customer_value(store, AS_OF) == [
        {"currency": "EUR", "buyers": 1, "net_spend_minor": 1_000, "value_so_far_minor": 1_000, "period_buyers": 1,
         "period_spend_minor": 1_000, "period_value_minor": 1_000, "projected_value_minor": 1_000},
        {"currency": "SEK", "buyers": 5, "net_spend_minor": 53_000, "value_so_far_minor": 10_600, "period_buyers": 3,
         "period_spend_minor": 15_000, "period_value_minor": 5_000, "projected_value_minor": 5_000},
    ]
    early = queries.customer_value(store, day(2, 1))  # no churn yet: no projection
    assert [(r["currency"], r["buyers"], r["projected_value_minor"]) for r in early] == [("SEK", 2, None)]


def test_redemption_rate_counts_points_spent_net_of_cancellations(store: ClickHouseStore) -> None:
    assert queries.redemption_rate(store, AS_OF) == {"points_earned": 100, "points_redeemed": 30,
                                                     "redemption_rate_bp": 3_000}
    assert queries.latest_event_time(store) == day(7, 5)


def test_the_reward_cost_rate_is_the_points_earned_valued_against_net_spend(store: ClickHouseStore) -> None:
    # In the year to the day: p1's 100 points earned, at 0.20 SEK; 530.00 SEK of net spend in SEK.
    assert queries.reward_cost(store, AS_OF, 20, "SEK", period_days=365) == {
        "points_earned": 100, "cost_minor": 2_000, "net_spend_minor": 53_000, "cost_rate_bp": 377}


def test_points_a_return_takes_back_cost_nothing_and_were_not_earned_for_the_redemption_rate(
        chdb_client: Any, ch_database: str) -> None:
    """q1 buys for 1,000.00 SEK (100 points and 30 campaign points) and returns 400.00 SEK of it (40 and 12 points
    back): 600.00 SEK of net spend cost 78 points at 0.20 SEK, 15.60 SEK, 2.60 % (not 130 points' 4.33 %)."""
    store = ClickHouseStore(chdb_client, ch_database)
    store.ensure_schema()
    store_records(store, "loyalty.activity.v1", [sale("r1", "q1", day(6, 1), 100_000),
                                                 sale("r2", "q1", day(6, 2), -40_000, kind="return")])
    store_records(store, "loyalty.ledger.v1", [
        entry("k1", "q1", day(6, 1), "purchase", 100), entry("k2", "q1", day(6, 1), "campaign", 30),
        entry("k3", "q1", day(6, 2), "return", -40), entry("k4", "q1", day(6, 2), "campaign", -12),
        entry("k5", "q1", day(6, 3), "redemption", -50)])  # spent, not taken back: the points were earned
    assert queries.reward_cost(store, AS_OF, 20, "SEK") == {
        "points_earned": 78, "cost_minor": 1_560, "net_spend_minor": 60_000, "cost_rate_bp": 260}
    assert queries.redemption_rate(store, AS_OF) == {  # 50 of the 78 kept, not of the 130 once earned
        "points_earned": 78, "points_redeemed": 50, "redemption_rate_bp": 6_410}


def test_upsell_is_the_share_of_returning_buyers_who_spend_more_an_order(chdb_client: Any, ch_database: str) -> None:
    store = ClickHouseStore(chdb_client, ch_database)
    store.ensure_schema()
    store_records(store, "loyalty.activity.v1", [
        sale("u1", "q1", day(2, 1), 10_000), sale("u2", "q1", day(5, 1), 15_000), sale("u3", "q1", day(6, 1), 25_000),
        sale("u4", "q2", day(1, 1), 30_000), sale("u5", "q2", day(6, 2), 10_000),  # spends less now
        sale("u6", "q3", day(5, 2), 9_000),  # new in the period: not returning
        sale("u7", "q4", day(1, 3), 1_000, currency="EUR"), sale("u8", "q4", day(6, 3), 9_000, currency="EUR"),
        sale("u9", "q2", day(6, 4), -10_000, kind="return"),  # order value is gross of returns
    ])
    # q1 went from 100.00 to 200.00 an order, q2 from 300.00 to 100.00: one of two grew; q4 buys in EUR.
    assert queries.upsell(store, AS_OF, "SEK") == {"returning_buyers": 2, "upsold": 1, "upsell_rate_bp": 5_000,
                                                    "earlier_aov_minor": 20_000, "recent_aov_minor": 16_666}
    assert queries.upsell(store, AS_OF, "SEK", period_days=365)["returning_buyers"] == 0


def test_net_promoter_score_counts_each_members_latest_answer_in_the_period(store: ClickHouseStore) -> None:
    assert queries.net_promoter_score(store, AS_OF) == {"respondents": 4, "promoters": 2, "detractors": 1,
                                                        "passives": 1, "nps_bp": 2_500}
    assert queries.net_promoter_score(store, AS_OF, period_days=30)["nps_bp"] == 6_666  # p1 10, p4 9, p3 8
    assert queries.net_promoter_score(store, day(2, 28))["nps_bp"] == -10_000  # p5's 0 alone
    assert queries.net_promoter_score(store, day(1, 1, 2020))["respondents"] == 0


def test_visit_frequency_is_purchases_per_buyer_and_their_usual_gap(store: ClickHouseStore) -> None:
    # In the 90 days: p1, p3, p4 and p7 bought, 5 purchases; p1's usual gap is 80 days, p4's 7.
    assert queries.visit_frequency(store, AS_OF) == {"buyers": 4, "purchases": 5, "median_gap_days": 7}


def test_the_kpis_break_down_by_segment_tier_and_churn_risk(store: ClickHouseStore) -> None:
    rows = queries.breakdown(store, "segment", AS_OF, "Member", "SEK")
    assert [(r["segment"], r["members"], r["points_outstanding"], r["buyers"], r["repeat_rate_bp"], r["orders"],
             r["spend_minor"], r["net_spend_minor"], r["aov_minor"], r["value_per_buyer_minor"], r["respondents"],
             r["nps_bp"]) for r in rows] == [
        ("vip", 1, 70, 1, 10_000, 3, 20_000, 20_000, 6_666, 20_000, 1, 10_000),
        ("(none)", 5, 10, 3, 3_333, 4, 18_000, 18_000, 4_500, 6_000, 2, 5_000),  # p3, p4, p5 bought; p6, p7 not
        ("stockholm", 1, 0, 1, 0, 1, 20_000, 15_000, 20_000, 15_000, 1, -10_000),
    ]
    tiers = queries.breakdown(store, "tier", AS_OF, "Member", "SEK")
    assert [(r["segment"], r["members"], r["net_spend_minor"]) for r in tiers] == [
        ("Member", 6, 33_000), ("Gold", 1, 20_000)]
    risks = queries.breakdown(store, "churn_risk", AS_OF, "Member", "SEK")
    assert [(r["segment"], r["members"], r["buyers"]) for r in risks] == [
        ("lapsed", 2, 2), ("active", 2, 1), ("at_risk", 2, 2), ("no purchase", 1, 0)]  # p7 is active in EUR
    with pytest.raises(ValueError, match="no breakdown by 'city': one of tier, segment, churn_risk"):
        queries.breakdown(store, "city", AS_OF, "Member", "SEK")


def test_loyalty_kpis_prints_them_in_words_as_of_a_day(store: ClickHouseStore) -> None:
    figures = kpi_lines(kpi_figures(store, PROGRAM_RULES, AS_OF), PROGRAM_RULES)
    assert figures["KPI: churn (90 days)"] == ("50.00 % of the 2 who bought in the 90 days before the last 90 did not "
                                               "buy again (retention 50.00 %)")
    assert figures["KPI: churn risk"] == "active 2, at risk 2, lapsed 2"
    assert figures["KPI: customer value (CLV)"] == (
        "10.00 EUR a buyer so far, 10.00 EUR in the last 90 days, 10.00 EUR projected; "
        "106.00 SEK a buyer so far, 50.00 SEK in the last 90 days, 50.00 SEK projected")
    assert figures["KPI: redemption rate"] == "30.00 % of 100 points earned"
    # on the day: 100 earned, 50 redeemed, 20 of them given back; p6's 10 points come in July
    assert figures["points outstanding (liability)"] == "70 = 14.00 SEK at 0.20 SEK a point"
    assert figures["KPI: upsell"] == ("0.00 % of the 1 who bought before and in the last 90 days spent more an "
                                      "order; their order value went from 75.00 SEK to 50.00 SEK")
    assert figures["KPI: reward cost rate"] == ("0.00 %: 0 points worth 0.00 SEK earned on 150.00 SEK of net spend "
                                                "in the last 90 days")
    assert figures["KPI: visit frequency"] == ("1.2 purchases a buyer in the last 90 days (4 buyers); "
                                               "7 days between purchases (median)")
    assert figures["KPI: Net Promoter Score"] == ("+25.00 from 4 members' answers in the last 90 days "
                                                  "(2 promoters, 1 passives, 1 detractors)")
    assert figures["as of"] == "2026-06-30 00:00 UTC"


def test_a_rate_of_points_on_no_spend_is_no_rate(chdb_client: Any, ch_database: str) -> None:
    """Two welcomed members and no purchase: 200 points worth 40.00 SEK, but no spend to set them against."""
    store = ClickHouseStore(chdb_client, ch_database)
    store.ensure_schema()
    store_records(store, "loyalty.ledger.v1", [entry("w1", "q1", day(6, 1), "welcome", 100),
                                               entry("w2", "q2", day(6, 1), "welcome", 100)])
    assert queries.reward_cost(store, AS_OF, 20, "SEK") == {
        "points_earned": 200, "cost_minor": 4_000, "net_spend_minor": 0, "cost_rate_bp": None}
    figures = kpi_lines(kpi_figures(store, PROGRAM_RULES, AS_OF), PROGRAM_RULES)
    assert figures["KPI: reward cost rate"] == "no spend in the last 90 days: 200 points worth 40.00 SEK earned"
    assert figures["KPI: redemption rate"] == "0.00 % of 200 points earned"
    assert figures["KPI: repeat-purchase rate"] == "nobody bought yet"
    assert figures["KPI: top categories by net spend"] == "no purchases yet"

    store_records(store, "loyalty.activity.v1", [sale("x1", "q1", day(1, 2), 50_000),  # bought before the period,
                                                 sale("x2", "q1", day(6, 2), -30_000, kind="return")])  # returned in it
    figures = kpi_lines(kpi_figures(store, PROGRAM_RULES, AS_OF), PROGRAM_RULES)
    assert figures["KPI: reward cost rate"] == ("no spend in the last 90 days, 300.00 SEK more refunded than bought: "
                                                "200 points worth 40.00 SEK earned")


def test_kpis_as_of_a_day_count_to_its_start_in_the_programs_time_zone(chdb_client: Any, ch_database: str,
                                                                     chdb_path: Path, tmp_path: Path) -> None:
    store = ClickHouseStore(chdb_client, ch_database)
    store.ensure_schema()
    # 23:30 on 29 June and 00:30 on 30 June in Stockholm (UTC+2): both on 29 June in UTC.
    store_records(store, "loyalty.ledger.v1", [
        entry("late", "q1", dt.datetime(2026, 6, 29, 21, 30, tzinfo=dt.UTC), "purchase", 100),
        entry("early", "q2", dt.datetime(2026, 6, 29, 22, 30, tzinfo=dt.UTC), "purchase", 40)])
    program = tmp_path / "stockholm.yaml"
    program.write_text(PROGRAM + "time_zone: Europe/Stockholm\n")
    env = {"LOYALTY_CLICKHOUSE_DSN": f"chdb://{chdb_path}", "LOYALTY_CLICKHOUSE_DATABASE": store.database,
           "LOYALTY_PROGRAM_FILE": str(program)}

    figures = json.loads(CliRunner().invoke(main, ["kpis", "--as-of", "2026-06-30", "--json"], env=env).output)
    words = CliRunner().invoke(main, ["kpis", "--as-of", "2026-06-30"], env={**env, "COLUMNS": "250"}).output

    assert figures["as_of"] == "2026-06-30T00:00:00+02:00"
    assert figures["redemption"]["points_earned"] == 100  # not the 40 earned after Stockholm's midnight
    assert "2026-06-30 00:00 Europe/Stockholm" in words


def test_loyalty_kpis_json_gives_numbers_under_snake_case_names(store: ClickHouseStore, chdb_path: Path) -> None:
    env = {"LOYALTY_CLICKHOUSE_DSN": f"chdb://{chdb_path}", "LOYALTY_CLICKHOUSE_DATABASE": store.database}
    result = CliRunner().invoke(main, ["kpis", "--as-of", "2026-06-30", "--json"], env=env)

    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert all(key.isidentifier() and key.islower() for key in figures)
    assert (figures["as_of"], figures["period_days"], figures["currency"]) == ("2026-06-30T00:00:00+02:00", 90, "SEK")
    assert (figures["points_outstanding"], figures["point_value_minor"], figures["liability_minor"]) == (70, 20, 1_400)
    assert figures["churn"] == {"cohort": 2, "retained": 1, "churned": 1, "churn_rate_bp": 5_000,
                                "retention_rate_bp": 5_000}
    assert figures["churn_risk"] == {"active": 2, "at_risk": 2, "lapsed": 2}
    assert figures["redemption"] == {"points_earned": 100, "points_redeemed": 30, "redemption_rate_bp": 3_000}
    assert figures["reward_cost"] == {"points_earned": 0, "cost_minor": 0, "net_spend_minor": 15_000,
                                      "cost_rate_bp": 0}
    assert figures["net_promoter_score"]["nps_bp"] == 2_500
    assert figures["campaign_return"]["holdout_members"] == 0  # the bundled program holds out 5 %: none of these
    assert [row["currency"] for row in figures["customer_value"]] == ["EUR", "SEK"]

    latest = json.loads(CliRunner().invoke(main, ["kpis", "--json"], env=env).output)
    assert latest["as_of"] == "2026-07-05T14:00:00+02:00"  # the latest event's time, in the program's zone

    early = json.loads(CliRunner().invoke(main, ["kpis", "--as-of", "2026-02-28", "--json"], env=env).output)
    assert (early["net_promoter_score"]["respondents"], early["net_promoter_score"]["nps_bp"]) == (1, -10_000)

    words = CliRunner().invoke(main, ["kpis", "--as-of", "2026-06-30"], env={**env, "COLUMNS": "250"})
    assert words.exit_code == 0, words.output
    assert "│ KPI: churn risk" in words.output and "active 2, at risk 2, lapsed 2" in words.output


def test_loyalty_kpis_on_a_data_directory_without_an_engines_data_says_so(tmp_path: Path) -> None:
    mistyped = tmp_path / "data-typo"
    embedded = {"LOYALTY_DATA_DIR": str(mistyped), "LOYALTY_CLICKHOUSE_DSN": "embedded"}
    said = CliRunner().invoke(main, ["kpis"], env=embedded)
    assert said.exit_code == 1
    assert f"no engine data in {mistyped}: run this where `loyalty run`" in " ".join(said.output.split())
    assert not mistyped.exists()  # nothing made there


def test_loyalty_kpis_by_segment_prints_a_row_per_segment(store: ClickHouseStore, chdb_path: Path) -> None:
    env = {"LOYALTY_CLICKHOUSE_DSN": f"chdb://{chdb_path}", "LOYALTY_CLICKHOUSE_DATABASE": store.database}
    result = CliRunner().invoke(main, ["kpis", "--by", "segment", "--as-of", "2026-06-30", "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert [(row["segment"], row["nps_bp"]) for row in json.loads(result.output)] == [
        ("vip", 10_000), ("(none)", 5_000), ("stockholm", -10_000)]

    wide = {**env, "COLUMNS": "200"}  # one row a line
    table = CliRunner().invoke(main, ["kpis", "--by", "segment", "--as-of", "2026-06-30"], env=wide)
    assert table.exit_code == 0, table.output
    vip = next(line for line in table.output.splitlines() if "vip" in line)
    assert [cell.strip() for cell in vip.strip("│ ").split("│")] == [
        "vip", "1", "1", "100.00 %", "3", "66.66 SEK", "200.00 SEK", "70", "+100.00 (1)"]
    for by in ("segment", "tier", "churn_risk"):  # piped, at 60 columns: the table grows, numbers are never cut
        narrow = CliRunner().invoke(main, ["kpis", "--by", by, "--as-of", "2026-06-30"], env={**env, "COLUMNS": "60"})
        assert narrow.exit_code == 0 and "…" not in narrow.output, narrow.output
    assert "200.00 SEK" in narrow.output and "+100.00 (1)" in narrow.output
    refused = CliRunner().invoke(main, ["kpis", "--by", "city"], env=env)
    assert refused.exit_code == 2 and "'city' is not one of 'tier', 'segment', 'churn_risk'" in refused.output


def test_the_grafana_dashboard_shows_the_same_figures_as_loyalty_kpis(store: ClickHouseStore) -> None:
    board = dashboard(store.database, parse_program(PROGRAM, "a test program"))
    shown = panel_rows(store, board, AS_OF)
    assert shown["Churn"] == [{"churn %": 50.0, "cohort": 2}]
    assert shown["Net Promoter Score"] == [{"NPS": 25.0, "answers": 4}]
    assert shown["Redemption rate"] == [{"redeemed %": 30.0}]
    assert {row["churn_risk"]: row["members"] for row in shown["Churn risk"]} == queries.churn_risk(store, AS_OF)
    assert [(row["currency"], row["a buyer so far"]) for row in shown["Customer value (CLV)"]] == [
        ("EUR", 10.0), ("SEK", 106.0)]
    assert [(row["segment"], row["NPS"]) for row in shown["KPIs by segment"]] == [
        ("vip", 100.0), ("(none)", 50.0), ("stockholm", -100.0)]
    assert shown["Upsell"][0]["bought before and in the period"] == 1
    assert shown["Leaderboard"] == []  # none earned in the range: p1's points are from before it, p6's after it
    assert shown["Points outstanding, valued"] == [{"liability": 14.0}]  # 70 points at 0.20 SEK on the day
    assert shown["Reward cost rate"] == [{"cost %": 0.0, "cost": 0.0, "net spend": 150.0}]
    assert shown["Triggers sent by kind"] == [{"kind": "welcome", "triggers": 2}, {"kind": "reward_unlocked",
                                                                                 "triggers": 1}]
    unvalued = dashboard(store.database, parse_program(PROGRAM.replace("point_value_minor: 20", ""), "unvalued"))
    assert {p["title"] for p in board["panels"]} - {p["title"] for p in unvalued["panels"]} == {
        "Reward cost rate", "Points outstanding, valued"}
    board_variables = {variable["name"] for variable in board["templating"]["list"]}
    assert board_variables == {"datasource", "period_days"}



def stored(chdb_client: Any, database: str, activity: Sequence[dict[str, Any]] = (),
           ledger: Sequence[dict[str, Any]] = ()) -> ClickHouseStore:
    """A store holding ``activity`` and ``ledger`` rows, each stored twice: a replayed row must count once."""
    store = ClickHouseStore(chdb_client, database)
    store.ensure_schema()
    for _ in range(2):
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
    shown = panel_rows(store, dashboard(store.database, PROGRAM_RULES), AS_OF)  # points earned in [1 April, 30 June]
    assert [(row["member_id"], row["points"]) for row in shown["Leaderboard"]] == [("ann", 80), ("bo", 50)]
    board = queries.leaderboard(store, PERIOD_START, AS_OF)
    assert [(row["member_id"], row["points"]) for row in board] == [("ann", 80), ("bo", 50)]


def test_the_leaderboard_panel_counts_only_points_earned_in_the_time_range(chdb_client: Any,
                                                                          ch_database: str) -> None:
    """Grafana's range is [1 April, 30 June]: ann's 100 points of 1 May are in it; bo's 500 of 5 July are not.
    Right: ann alone, with 100 (not bo first with 500)."""
    store = stored(chdb_client, ch_database, ledger=[entry("a1", "ann", day(5, 1), "purchase", 100),
                                                     entry("b1", "bo", day(7, 5), "purchase", 500)])
    shown = panel_rows(store, dashboard(store.database, PROGRAM_RULES), AS_OF)
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
