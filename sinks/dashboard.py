"""The marketing dashboard for Grafana, made from the very SQL ``loyalty kpis`` runs.

Each panel wraps one query of ``sinks.queries`` in a SELECT that only renames and
scales for display (minor units to the currency, basis points to %). The queries'
ClickHouse parameters become the dashboard's: ``as_of`` is the end of the time range,
``since`` its start, ``period_days`` a dashboard variable (30, 90, 180 or 365); the
database, base tier and currency are written in when the dashboard is made for a
program. Grafana reads ClickHouse through the official plugin
(``grafana-clickhouse-datasource``), so the figures on the board are the CLI's figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from processors.money import minor_digits
from processors.program import Program
from sinks import queries
from sinks.tables import quote_ident

DATASOURCE = {"type": "grafana-clickhouse-datasource", "uid": "${datasource}"}
PERIODS = (30, 90, 180, 365)
# The plugin's macros for the panel's time range, as DateTime64(3).
GRAFANA_PARAMETERS = {
    "{as_of:DateTime64(3, 'UTC')}": "$__toTime_ms",
    "{since:DateTime64(3, 'UTC')}": "$__fromTime_ms",
    "{period_days:UInt32}": "${period_days}",
    "{limit:UInt32}": "10",
}


@dataclass(frozen=True)
class Panel:
    title: str
    kind: str  # a Grafana panel type: stat, table, piechart
    sql: str  # a query of sinks.queries
    columns: str  # what the panel shows of it: {money} scales minor units, {percent} basis points
    width: int = 6
    height: int = 5
    description: str = ""
    valued: bool = False  # shown only when the program gives a point a value
    held_out: bool = False  # shown only when the program holds members out of campaigns and offers

    def shown_for(self, program: Program) -> bool:
        return bool((program.point_value_minor or not self.valued) and (program.holdout_bp or not self.held_out))


PANELS = (
    Panel("Members", "stat", queries.PROGRAM_SQL, "members AS `enrolled members`", 4, 4),
    Panel("Points outstanding", "stat", queries.PROGRAM_SQL, "points_outstanding AS `points (liability)`", 4, 4),
    Panel("Net Promoter Score", "stat", queries.NPS_SQL, "nps_bp / 100 AS NPS, respondents AS answers", 4, 4,
          "Promoters (9-10) minus detractors (0-6) among members who answered in the period, latest answer each"),
    Panel("Churn", "stat", queries.CHURN_SQL, "churn_rate_bp {percent} AS `churn %`, cohort", 4, 4,
          "Of the members who bought in the period before the last, the share who did not buy in the last"),
    Panel("Repeat-purchase rate", "stat", queries.REPEAT_SQL, "rate_bp {percent} AS `repeat %`, buyers", 4, 4),
    Panel("Redemption rate", "stat", queries.REDEMPTION_SQL, "redemption_rate_bp {percent} AS `redeemed %`", 4, 4,
          "Points spent on rewards or paid with (net of cancellations and refunds) against points earned"),
    Panel("Reward cost rate", "stat", queries.REWARD_COST_SQL,
          "cost_rate_bp {percent} AS `cost %`, cost_minor {money} AS cost, net_spend_minor {money} AS `net spend`",
          8, 4, "What the points earned in the period cost, against the members' net spend in it", valued=True),
    Panel("Campaign ROI against the holdout", "table", queries.CAMPAIGN_RETURN_SQL,
          "if(roi_bp IS NULL, NULL, roi_bp {percent}) AS `ROI %`, members, holdout_members AS `held out`, "
          "spend_per_member_minor {money} AS `spend a member`, holdout_spend_per_member_minor {money} AS "
          "`spend a held-out member`, incremental_margin_minor {money} AS `extra margin`, cost_minor {money} AS "
          "`campaign points cost`", 24, 4,
          "Members against the holdout, who get no campaign points or offers: the margin on what members spent "
          "beyond the holdout's rate, less the campaign points' cost, against that cost", held_out=True),
    Panel("Points outstanding, valued", "stat", queries.PROGRAM_SQL,
          "points_outstanding * {point_value} {money} AS `liability`", 4, 4, valued=True),
    Panel("Churn risk", "piechart", queries.CHURN_RISK_SQL, "churn_risk, members", 6, 8,
          "Buyers by churn risk: lapsed after a period without a purchase, at risk after half of one or after "
          "twice their usual gap"),
    Panel("Customer value (CLV)", "table", queries.CUSTOMER_VALUE_SQL,
          "currency, buyers, value_so_far_minor {money} AS `a buyer so far`, "
          "period_value_minor {money} AS `a buyer in the period`, projected_value_minor {money} AS projected", 9, 8,
          "Net spend per buyer; projected = period value x retention / churn"),
    Panel("Upsell", "table", queries.UPSELL_SQL,
          "returning_buyers AS `bought before and in the period`, upsell_rate_bp {percent} AS `spent more an order %`, "
          "earlier_aov_minor {money} AS `order value before`, recent_aov_minor {money} AS `order value in the period`",
          12, 6),
    Panel("Visit frequency", "table", queries.VISITS_SQL,
          "buyers, purchases, purchases / greatest(buyers, 1) AS `purchases a buyer`, "
          "median_gap_days AS `days between purchases (median)`", 12, 6),
    *(Panel(f"KPIs by {by.replace('_', ' ')}", "table", queries.breakdown_sql(by),
            "segment, members, buyers, repeat_rate_bp {percent} AS `repeat %`, orders, aov_minor {money} AS "
            "`order value`, value_per_buyer_minor {money} AS `net per buyer`, points_outstanding AS points, "
            "if(respondents > 0, nps_bp / 100, NULL) AS NPS, respondents AS answers", 24, 8)
      for by in queries.BREAKDOWNS),
    Panel("Average order value by channel", "table", queries.AOV_SQL,
          "channel, currency, orders, aov_minor {money} AS `order value`", 8, 8),
    Panel("Top categories by net spend", "table", queries.TOP_CATEGORIES_SQL,
          "category, currency, spend_minor {money} AS `net spend`, orders", 8, 8),
    Panel("Liability by tier", "table", queries.LIABILITY_BY_TIER_SQL, "tier, members, points_outstanding AS points",
          8, 8),
    Panel("Triggers sent by kind", "piechart", queries.TRIGGERS_BY_KIND_SQL, "kind, triggers", 8, 8,
          "The moments downstream systems were told to tell members about"),
    Panel("Leaderboard", "table", queries.LEADERBOARD_SQL, "member_id, points, badges", 24, 8,
          "Points earned in the time range, with badges"),
)


def grafana_sql(panel: Panel, database: str, program: Program) -> str:
    """The panel's query as the plugin is sent it: parameters as macros, the program's values written in."""
    currency, value = program.currency, str(program.point_value_minor)
    scale = f"/ {10 ** minor_digits(currency)}" if minor_digits(currency) else ""
    columns = panel.columns.replace("{money}", scale).replace("{percent}", "/ 100").replace("{point_value}", value)
    sql = panel.sql.replace("$db", quote_ident(database)).replace("{point_value_minor:UInt64}", value)
    sql = sql.replace("{holdout_bp:UInt16}", str(program.holdout_bp)).replace("{gross_margin_bp:UInt16}",
                                                                              str(program.gross_margin_bp))
    sql = sql.replace("{base_tier:String}", _literal(program.tiers[0].name)).replace("{currency:String}",
                                                                                     _literal(currency))
    for parameter, macro in GRAFANA_PARAMETERS.items():
        sql = sql.replace(parameter, macro)
    return f"SELECT {columns}\nFROM ({sql.strip()}\n)"


def _literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def dashboard(database: str, program: Program) -> dict[str, Any]:
    """The Grafana dashboard JSON model for one program's database."""
    panels, x, y, row_height = [], 0, 0, 0
    shown = [panel for panel in PANELS if panel.shown_for(program)]
    for number, panel in enumerate(shown, 1):
        if x + panel.width > 24:
            x, y, row_height = 0, y + row_height, 0
        panels.append({
            "id": number, "type": panel.kind, "title": panel.title, "description": panel.description,
            "datasource": DATASOURCE, "gridPos": {"x": x, "y": y, "w": panel.width, "h": panel.height},
            "targets": [{"refId": "A", "datasource": DATASOURCE, "editorType": "sql", "format": 1,
                         "queryType": "table", "rawSql": grafana_sql(panel, database, program)}],
            "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": True}},
        })
        x, row_height = x + panel.width, max(row_height, panel.height)
    return {
        "title": f"{program.name}: loyalty KPIs", "uid": f"loyalty-{database}", "schemaVersion": 39,
        "tags": ["loyalty"], "timezone": "utc", "time": {"from": "now-90d", "to": "now"}, "refresh": "5m",
        "templating": {"list": [
            {"name": "datasource", "label": "ClickHouse", "type": "datasource", "query": DATASOURCE["type"]},
            {"name": "period_days", "label": "Period (days)", "type": "custom",
             "query": ",".join(map(str, PERIODS)), "current": {"text": "90", "value": "90"},
             "options": [{"text": str(days), "value": str(days), "selected": days == 90} for days in PERIODS]},
        ]},
        "panels": panels,
    }
