"""Campaign ROI against the holdout, in ClickHouse, on a worked quarter.

As of 30 June 2026 with a 90-day period (from 1 April), a holdout of 1,500 bp holds eva and
dana out (CRC-32 mod 10,000: 1,271 and 744); bo, anna and carl are the members (2,851, 6,263 and
3,457). In the period bo spent 30,000, anna 20,000 less a 5,000 return, carl nothing in SEK:
45,000 from 3 members. The holdout spent 10,000 and 2,000: 12,000 from 2, or 18,000 for 3.
The members spent 27,000 beyond that; at a 40 % margin that is 10,800. Their campaign points
(300 and 200, less the 50 anna's return took back; February's 1,000 is before the period) at
0.20 SEK cost 9,000: ROI +20 %.
"""

from __future__ import annotations

import datetime as dt
import zlib
from typing import Any

from grafana_panels import panel_rows
from stored_records import store_records

from processors.holdout import held_out
from processors.program import Program
from sinks import queries
from sinks.clickhouse import ClickHouseStore
from sinks.dashboard import dashboard
from streams.reports import kpi_figures, kpi_lines

AS_OF = dt.datetime(2026, 6, 30, tzinfo=dt.UTC)
PROGRAM = Program(name="Test Fashion", currency="SEK", holdout_bp=1_500, gross_margin_bp=4_000, point_value_minor=20)


def day(month: int, dom: int) -> dt.datetime:
    return dt.datetime(2026, month, dom, 12, tzinfo=dt.UTC)


def activity(event_id: str, member: str, when: dt.datetime, amount: int = 0, kind: str = "purchase",
             currency: str | None = "SEK") -> dict[str, Any]:
    return {"event_id": event_id, "member_id": member, "occurred_at": when, "event_type": kind, "channel": "pos",
            "store_id": "s1", "currency": currency, "amount_minor": amount, "points": 0, "order_id": f"o-{event_id}",
            "lines": []}


def campaign_entry(entry_id: str, member: str, when: dt.datetime, points: int) -> dict[str, Any]:
    return {"entry_id": entry_id, "member_id": member, "event_id": f"e-{entry_id}", "occurred_at": when,
            "reason": "campaign", "points": points, "balance_after": 0, "order_id": None, "line_id": None,
            "detail": "campaign", "available_at": None}


ACTIVITY = [
    *(activity(f"join-{m}", m, day(1, 2), kind="enrolled", currency=None)
      for m in ("eva", "dana", "bo", "anna", "carl")),
    activity("b1", "bo", day(5, 1), 30_000), activity("b0", "bo", day(2, 1), 50_000),
    activity("a1", "anna", day(4, 10), 20_000), activity("a2", "anna", day(4, 20), -5_000, kind="return"),
    activity("c1", "carl", day(6, 1), 7_000, currency="EUR"),
    activity("e1", "eva", day(6, 2), 10_000), activity("d1", "dana", day(5, 5), 2_000),
]
LEDGER = [campaign_entry("l1", "bo", day(5, 1), 300), campaign_entry("l2", "anna", day(4, 10), 200),
          campaign_entry("l3", "anna", day(4, 20), -50), campaign_entry("l0", "bo", day(2, 1), 1_000)]


def stored(chdb_client: Any, database: str) -> ClickHouseStore:
    store = ClickHouseStore(chdb_client, database)
    store.ensure_schema()
    for _ in range(2):  # replayed rows count once
        store_records(store, "loyalty.activity.v1", ACTIVITY)
        store_records(store, "loyalty.ledger.v1", LEDGER)
    return store


def test_the_members_spend_beyond_the_holdouts_rate_against_what_the_campaigns_cost(chdb_client: Any,
                                                                                   ch_database: str) -> None:
    store = stored(chdb_client, ch_database)

    assert queries.campaign_return(store, AS_OF, PROGRAM) == {
        "members": 3, "holdout_members": 2, "spend_minor": 45_000, "holdout_spend_minor": 12_000,
        "spend_per_member_minor": 15_000, "holdout_spend_per_member_minor": 6_000,
        "incremental_spend_minor": 27_000, "incremental_margin_minor": 10_800, "campaign_points": 450,
        "cost_minor": 9_000, "roi_bp": 2_000}
    assert kpi_lines(kpi_figures(store, PROGRAM, AS_OF), PROGRAM)["KPI: campaign ROI against the holdout"] == (
        "+20.00 %: the 3 members spent 150.00 SEK each in the last 90 days, the 2 held out 60.00 SEK; "
        "270.00 SEK more in all, 108.00 SEK at the 40.00 % margin, for 450 campaign points costing 90.00 SEK")
    [panel] = panel_rows(store, dashboard(store.database, PROGRAM), AS_OF)["Campaign ROI against the holdout"]
    assert (panel["ROI %"], panel["held out"], panel["extra margin"], panel["campaign points cost"]) == (
        20.0, 2, 108.0, 90.0)
    assert "Campaign ROI against the holdout" not in panel_rows(
        store, dashboard(store.database, PROGRAM.model_copy(update={"holdout_bp": 0})), AS_OF)
    a_year_on = kpi_figures(store, PROGRAM, AS_OF.replace(year=2027))
    quiet = kpi_lines(a_year_on, PROGRAM)["KPI: campaign ROI against the holdout"]
    assert quiet.endswith("0.00 SEK more in all, 0.00 SEK at the 40.00 % margin, for 0 campaign points costing "
                          "0.00 SEK; no ROI without campaign points in the period")
    unpriced_program = PROGRAM.model_copy(update={"gross_margin_bp": 0})
    unpriced = kpi_lines(kpi_figures(store, unpriced_program, AS_OF), unpriced_program)
    assert unpriced["KPI: campaign ROI against the holdout"].endswith(
        "(give gross_margin_bp and point_value_minor for the ROI)")
    nobody_held = queries.campaign_return(store, AS_OF, PROGRAM.model_copy(update={"holdout_bp": 0}))
    assert (nobody_held["holdout_members"], nobody_held["roi_bp"]) == (0, None)


def test_clickhouse_holds_out_the_members_the_engine_holds_out(chdb_client: Any) -> None:
    ids = [f"M{n:06d}" for n in range(2_000)] + ["eva", "anna", "ünïcødé-member"]
    rows = chdb_client.query("SELECT arrayJoin({ids:Array(String)}) AS id, CRC32(id) AS crc",
                             parameters={"ids": ids}).result_rows

    assert [crc for _, crc in rows] == [zlib.crc32(member_id.encode()) for member_id in ids]
    assert [crc % 10_000 < 500 for _, crc in rows] == [held_out(member_id, 500) for member_id in ids]
