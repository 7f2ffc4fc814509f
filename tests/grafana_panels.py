"""Running a dashboard's panels as Grafana's ClickHouse plugin would, for one time range."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sinks.clickhouse import ClickHouseStore


def panel_rows(store: ClickHouseStore, board: dict[str, Any], as_of: dt.datetime,
               period_days: int = 90) -> dict[str, list[dict[str, Any]]]:
    """Each panel's rows by title, for the range [as_of - period, as_of] and a period of ``period_days``."""
    start, end = (int(when.timestamp() * 1000) for when in (as_of - dt.timedelta(days=period_days), as_of))
    shown = {}
    for panel in board["panels"]:
        [target] = panel["targets"]
        assert target["datasource"] == panel["datasource"] == {"type": "grafana-clickhouse-datasource",
                                                                "uid": "${datasource}"}
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
        sql = (target["rawSql"].replace("$__toTime_ms", f"fromUnixTimestamp64Milli({end})")
               .replace("$__fromTime_ms", f"fromUnixTimestamp64Milli({start})")
               .replace("${period_days}", str(period_days)))
        assert "{" not in sql and "$" not in sql, sql
        shown[panel["title"]] = store.rows(sql)
    return shown
