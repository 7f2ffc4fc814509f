"""What ``loyalty member`` and ``loyalty kpis`` report, as JSON-shaped values, wherever they are asked.

The commands read ClickHouse themselves. Embedded ClickHouse (chDB) lets one process
open its data path, though, and a running ``loyalty run`` holds it: so that engine
answers the same reports itself, over a Unix socket in a directory of its data
directory that only its user may enter. Member data never leaves the machine or the
user, and the answer is the same either way (times as text).
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import socket
import socketserver
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from processors.money import format_money, format_percent
from processors.program import Program
from sinks import queries
from sinks.clickhouse import ClickHouseStore, NoDatabase, location
from streams.background import serving
from streams.processes import ClickHouseUnreachable, clickhouse
from streams.settings import Settings

log = logging.getLogger(__name__)
SOCKET = Path("private", "reports.sock")  # under the data directory; "private" is mode 0700


class NoReport(Exception):
    """Neither ClickHouse nor a running engine could answer; the message says what to do."""


class EngineGone(OSError):
    """The socket of a running engine is there, but no engine answers on it."""


def member_report(store: ClickHouseStore, program: Program, member_id: str) -> dict[str, Any] | None:
    """The member's balance, tier, pending points by day, segments and ledger (a statement), or None for an unknown
    member."""
    summary = queries.member_summary(store, member_id, program.tiers[0].name)
    if summary is None:
        return None
    return {"member": summary, "pending": queries.member_pending(store, member_id, program.time_zone),
            "segments": queries.member_segments(store, member_id), "ledger": queries.member_ledger(store, member_id)}


def kpi_report(store: ClickHouseStore, program: Program, as_of: str | None, period_days: int,
               by: str | None) -> dict[str, Any]:
    """The KPIs as numbers (``figures``, see ``kpi_figures``), or broken down ``by`` a dimension (``rows``), as of
    ``as_of`` (ISO time)."""
    when = kpi_time(store, datetime.fromisoformat(as_of) if as_of else None)
    if by is None:
        return {"as_of": as_of_text(when, program), "figures": kpi_figures(store, program, when, period_days)}
    return {"as_of": as_of_text(when, program), "currency": program.currency,
            "rows": queries.breakdown(store, by, when, program.tiers[0].name, program.currency, period_days)}


def kpi_time(store: ClickHouseStore, as_of: datetime | None) -> datetime:
    """``as_of``, else the latest event's time (so a replayed history reads as it was), else now."""
    return as_of or queries.latest_event_time(store) or datetime.now(UTC)


def as_of_text(when: datetime, program: Program) -> str:
    """``when`` as the program's people read it: in its time zone, named."""
    return f"{when.astimezone(ZoneInfo(program.time_zone)):%Y-%m-%d %H:%M} {program.time_zone}"


def kpi_figures(store: ClickHouseStore, program: Program, as_of: datetime | None = None,
                period_days: int = 90) -> dict[str, Any]:
    """The program's KPIs as numbers, as of ``as_of`` (default: see ``kpi_time``), each from ClickHouse; only
    ``members_per_tier`` and ``dead_letters`` are as they are now.

    Keys are snake_case, as the queries name them: money in minor units next to its
    currency, points as integers, rates in basis points (None where nothing to divide by),
    so that ``kpis --json`` reads as ``kpis --by ... --json`` does. ``reward_cost`` is there
    when a point has a value, ``campaign_return`` when the program holds members out.
    """
    as_of = kpi_time(store, as_of)
    currency, point_value = program.currency, program.point_value_minor
    summary = queries.program_summary(store, program.tiers[0].name, as_of)
    return {
        "as_of": as_of.astimezone(ZoneInfo(program.time_zone)).isoformat(), "period_days": period_days,
        "currency": currency,
        "point_value_minor": point_value or None,
        "members": summary["members"],
        "points_issued": summary["points_issued"],
        "points_outstanding": summary["points_outstanding"],
        "liability_minor": summary["points_outstanding"] * point_value if point_value else None,
        "members_per_tier": dict(sorted(summary["members_per_tier"].items())),
        "dead_letters": summary["dead_letters"],
        "triggers_sent": queries.triggers_by_kind(store, as_of),
        "average_order_value": queries.average_order_value(store, as_of),
        "repeat_purchase": queries.repeat_purchase_rate(store, as_of),
        "top_categories": queries.top_categories(store, as_of, limit=3),
        "churn": queries.churn(store, as_of, period_days),
        "churn_risk": queries.churn_risk(store, as_of, period_days),
        "customer_value": queries.customer_value(store, as_of, period_days),
        "redemption": queries.redemption_rate(store, as_of),
        "visit_frequency": queries.visit_frequency(store, as_of, period_days),
        "upsell": queries.upsell(store, as_of, currency, period_days),
        "reward_cost": queries.reward_cost(store, as_of, point_value, currency, period_days) if point_value else None,
        "campaign_return": (queries.campaign_return(store, as_of, program, period_days) if program.holdout_bp
                            else None),
        "net_promoter_score": queries.net_promoter_score(store, as_of, period_days),
    }


def kpi_lines(figures: dict[str, Any], program: Program) -> dict[str, str]:
    """The KPIs of ``kpi_figures`` in words, for people."""
    currency, point_value, period_days = figures["currency"], figures["point_value_minor"], figures["period_days"]
    liability = f"{figures['points_outstanding']:,}"
    if point_value:
        liability += (f" = {format_money(figures['liability_minor'], currency)} at "
                      f"{format_money(point_value, currency)} a point")
    tiers = ", ".join(f"{tier} {count:,}" for tier, count in figures["members_per_tier"].items())
    aov = "; ".join(f"{row['channel']} {format_money(row['aov_minor'], row['currency'])} ({row['orders']:,} orders)"
                    for row in figures["average_order_value"])
    repeat, told, churn = figures["repeat_purchase"], figures["triggers_sent"], figures["churn"]
    top = "; ".join(f"{row['category']} {format_money(row['spend_minor'], row['currency'])}"
                    for row in figures["top_categories"])
    value = "; ".join(_customer_value(row, period_days) for row in figures["customer_value"])
    redeemed, grew, nps = figures["redemption"], figures["upsell"], figures["net_promoter_score"]
    lines = {
        "members": f"{figures['members']:,}",
        "points issued": f"{figures['points_issued']:,}",
        "points outstanding (liability)": liability,
        "members per tier (now)": tiers,
        "dead letters (not applied since)": f"{figures['dead_letters']:,}",
        "triggers sent": (f"{sum(told.values()):,} (" + "; ".join(f"{kind} {count:,}" for kind, count in told.items())
                          + ")" if told else "none yet"),
        "KPI: average order value": aov or "no purchases yet",
        "KPI: repeat-purchase rate": (f"{format_percent(repeat['rate_bp'])} of {repeat['buyers']:,} buyers"
                                      if repeat["buyers"] else "nobody bought yet"),
        "KPI: top categories by net spend": top or "no purchases yet",
        f"KPI: churn ({period_days} days)": (
            f"{format_percent(churn['churn_rate_bp'])} of the {churn['cohort']:,} who bought in the {period_days} days "
            f"before the last {period_days} did not buy again (retention {format_percent(churn['retention_rate_bp'])})"
            if churn["cohort"] else f"nobody bought in the {period_days} days before the last {period_days} yet"),
        "KPI: churn risk": ", ".join(f"{level.replace('_', ' ')} {count:,}"
                                     for level, count in figures["churn_risk"].items()),
        "KPI: customer value (CLV)": value or "no purchases yet",
        "KPI: redemption rate": (f"{format_percent(redeemed['redemption_rate_bp'])} of "
                                 f"{redeemed['points_earned']:,} points earned"
                                 if redeemed["points_earned"] else "no points earned yet"),
        "KPI: visit frequency": _visits(figures["visit_frequency"], period_days),
        "KPI: upsell": (
            f"{format_percent(grew['upsell_rate_bp'])} of the {grew['returning_buyers']:,} who bought before and in "
            f"the last {period_days} days spent more an order; their order value went from "
            f"{format_money(grew['earlier_aov_minor'], currency)} to {format_money(grew['recent_aov_minor'], currency)}"
            if grew["returning_buyers"] else f"nobody bought both before and in the last {period_days} days yet"),
    }
    if figures["reward_cost"] is not None:
        lines["KPI: reward cost rate"] = _reward_cost(figures["reward_cost"], currency, period_days)
    if figures["campaign_return"] is not None:
        lines["KPI: campaign ROI against the holdout"] = _campaign_return(figures["campaign_return"], program,
                                                                          period_days)
    lines["KPI: Net Promoter Score"] = (
        f"{signed(nps['nps_bp'])} from {nps['respondents']:,} members' answers in the last {period_days} days "
        f"({nps['promoters']:,} promoters, {nps['passives']:,} passives, {nps['detractors']:,} detractors)"
        if nps["respondents"] else f"no survey answers in the last {period_days} days")
    lines["as of"] = as_of_text(datetime.fromisoformat(figures["as_of"]), program)
    return lines


def _reward_cost(cost: dict[str, Any], currency: str, period_days: int) -> str:
    """The rate only against some spend: points given on no spend (or on more refunded than bought) have no rate."""
    earned = f"{cost['points_earned']:,} points worth {format_money(cost['cost_minor'], currency)} earned"
    spend = cost["net_spend_minor"]
    if cost["cost_rate_bp"] is None:
        refunded = f", {format_money(-spend, currency)} more refunded than bought" if spend < 0 else ""
        return f"no spend in the last {period_days} days{refunded}: {earned}"
    return (f"{format_percent(cost['cost_rate_bp'])}: {earned} on {format_money(spend, currency)} of net spend "
            f"in the last {period_days} days")


def _customer_value(row: dict[str, Any], period_days: int) -> str:
    currency, projected = row["currency"], row["projected_value_minor"]
    words = (f"{format_money(row['value_so_far_minor'], currency)} a buyer so far, "
             f"{format_money(row['period_value_minor'], currency)} in the last {period_days} days")
    return words + (f", {format_money(projected, currency)} projected" if projected is not None else "")


def _campaign_return(found: dict[str, Any], program: Program, period_days: int) -> str:
    """The ROI first, then what it is made of, so a reader can weigh it (a small holdout says little)."""
    if not found["holdout_members"]:
        return "nobody is held out yet"
    currency = program.currency
    words = (f"the {found['members']:,} members spent {format_money(found['spend_per_member_minor'], currency)} each "
             f"in the last {period_days} days, the {found['holdout_members']:,} held out "
             f"{format_money(found['holdout_spend_per_member_minor'], currency)}; "
             f"{format_money(abs(found['incremental_spend_minor']), currency)} "
             f"{'less' if found['incremental_spend_minor'] < 0 else 'more'} in all")
    if program.gross_margin_bp:
        words += (f", {format_money(found['incremental_margin_minor'], currency)} at the "
                  f"{format_percent(program.gross_margin_bp)} margin")
    if program.point_value_minor:
        words += (f", for {found['campaign_points']:,} campaign points costing "
                  f"{format_money(found['cost_minor'], currency)}")
    if not (program.gross_margin_bp and program.point_value_minor):
        return words + " (give gross_margin_bp and point_value_minor for the ROI)"
    if found["roi_bp"] is None:
        return words + "; no ROI without campaign points in the period"
    return f"{signed(found['roi_bp'])} %: {words}"


def _visits(visits: dict[str, Any], period_days: int) -> str:
    if not visits["buyers"]:
        return f"nobody bought in the last {period_days} days"
    tenths = visits["purchases"] * 10 // visits["buyers"]
    gap = visits["median_gap_days"]
    return (f"{tenths // 10}.{tenths % 10} purchases a buyer in the last {period_days} days "
            f"({visits['buyers']:,} buyers)" + (f"; {gap} days between purchases (median)" if gap is not None else ""))


def signed(basis_points: int) -> str:
    """A score in basis points, e.g. an NPS of 4,250 bp as +42.50 (rounded toward zero, as computed)."""
    size = abs(basis_points)
    return f"{'-' if basis_points < 0 else '+'}{size // 100}.{size % 100:02d}"


def dead_letter_report(store: ClickHouseStore, program: Program, stage: str | None, reason: str,
                       limit: int | None, include_applied: bool = False) -> list[dict[str, Any]]:
    """The dead letters (``queries.dead_letters``), their key and original bytes in base64: JSON carries no bytes."""
    return [{**row, "key": _base64(row["key"]), "value": _base64(row["value"])}
            for row in queries.dead_letters(store, stage, reason, limit, include_applied)]


def _base64(value: bytes | None) -> str | None:
    return None if value is None else base64.b64encode(value).decode()


REPORTS: dict[str, Callable[..., Any]] = {"member": member_report, "kpis": kpi_report,
                                          "dead_letters": dead_letter_report}


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def report(settings: Settings, program: Program, name: str, **arguments: Any) -> Any:
    """The named report from the running engine that holds embedded ClickHouse, or from ClickHouse itself."""
    path = settings.data_dir / SOCKET
    if settings.embedded_clickhouse and path.exists():
        with contextlib.suppress(EngineGone):  # a killed engine leaves its socket behind
            return _ask(path, name, arguments)
    if settings.embedded_clickhouse and not (settings.data_dir / "clickhouse").is_dir():  # else made empty, and read
        raise NoReport(f"no engine data in {settings.data_dir.resolve()}: run this where `loyalty run` or `loyalty "
                       "demo` ran, or set LOYALTY_DATA_DIR to its data directory")
    try:
        store = clickhouse(settings, existing=True)
    except (ClickHouseUnreachable, NoDatabase) as exc:
        raise NoReport(str(exc)) from exc
    except Exception as exc:
        where = location(settings.resolved_clickhouse_dsn())
        raise NoReport(f"cannot open ClickHouse at {where}: {exc}. With embedded ClickHouse, run this where "
                       "`loyalty run` runs (same data directory) or stop the process that holds it") from exc
    try:
        return _jsonable(REPORTS[name](store, program, **arguments))
    finally:
        store.close()


def _ask(path: Path, name: str, arguments: dict[str, Any]) -> Any:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.settimeout(120)
        try:
            connection.connect(str(path))
        except OSError as exc:
            raise EngineGone(f"the engine that made {path} does not answer ({exc.strerror})") from exc
        connection.sendall(json.dumps({"report": name, "arguments": arguments}).encode() + b"\n")
        answer = json.loads(connection.makefile("rb").readline() or b'{"error": "the engine hung up"}')
    if "error" in answer:
        raise NoReport(f"the running engine could not answer: {answer['error']}")
    return answer["result"]


@contextlib.contextmanager
def serving_reports(settings: Settings, store: ClickHouseStore, program: Program) -> Iterator[Path | None]:
    """Answer ``report`` requests from this machine's user while the engine holds embedded ClickHouse."""
    if not settings.embedded_clickhouse:  # the commands read a ClickHouse server themselves
        yield None
        return
    path = settings.data_dir / SOCKET
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    path.unlink(missing_ok=True)

    class Answer(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            try:
                request = json.loads(self.rfile.readline())
                answer = {"result": _jsonable(REPORTS[request["report"]](store, program, **request["arguments"]))}
            except Exception as exc:  # the asking command shows it; the engine goes on
                answer = {"error": f"{type(exc).__name__}: {exc}"}
            self.wfile.write(json.dumps(answer).encode() + b"\n")

    try:
        server = socketserver.ThreadingUnixStreamServer(str(path), Answer)
    except OSError as exc:  # e.g. a data directory path too long for a socket: the commands then say so
        log.warning("cannot answer `loyalty member` and `loyalty kpis` on %s: %s", path, exc)
        yield None
        return
    try:
        with serving(server, "reports"):
            yield path
    finally:
        path.unlink(missing_ok=True)
