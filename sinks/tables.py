"""The ClickHouse tables, one per output topic, declared once as data.

Each ``Table`` says which topic feeds it, the contract of its messages and its
columns with their ClickHouse types. A column takes the Avro field of its name:
the sink hands ClickHouse the messages' Avro as it is (``FORMAT Avro``), so adding
a field is one line here. Activity lines arrive as one array of records and are
kept as parallel ``line_*`` arrays, computed at insert from that array.

Every table is a ``ReplacingMergeTree`` whose sorting key ends with the record's
deterministic id: a replayed output row collapses onto the first one at merge time,
and every query reads with ``FINAL`` (or dedupes by id) so results are exact before
that merge happens. ``member_id`` leads the key where queries filter by member.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "TABLES",
    "TABLES_BY_TOPIC",
    "VIEWS",
    "Column",
    "Table",
    "create_statements",
    "quote_ident",
]

# Types used over and over; the guarantees want integers as Int64 and times in UTC ms.
ID = "String"
INT = "Int64"
TIME = "DateTime64(3, 'UTC')"
LABEL = "LowCardinality(String)"
OPT_LABEL = "LowCardinality(Nullable(String))"
OPT = "Nullable(String)"
# Ledger entries that are points earned: spent points given back (a cancelled redemption, a refund) are not, nor
# pending points given again with a new date (their pair took them off with the old one).
EARNED = "points > 0 AND reason NOT IN ('redemption_cancelled', 'points_refund', 'pending_moved')"
MIN_USUAL_GAP_DAYS = 7  # the shortest pace between purchases a churn risk assumes
ACTIVITY_LINE = ("Tuple(line_id String, sku String, category String, quantity Int64, amount_minor Int64, "
                 "points Int64)")


@dataclass(frozen=True, slots=True)
class Column:
    """A ClickHouse column. Inserts fill it from the Avro field of the same name, unless ``default`` says
    how to compute it; an ``ephemeral`` one is filled by an insert but not stored (it feeds defaults)."""

    name: str
    type: str
    default: str = ""
    ephemeral: bool = False

    def ddl(self) -> str:
        return " ".join(filter(None, (quote_ident(self.name), self.type, self.default and f"DEFAULT {self.default}",
                                      "EPHEMERAL" if self.ephemeral else "")))


def col(name: str, type_: str, default: str = "") -> Column:
    return Column(name, type_, default)


@dataclass(frozen=True, slots=True)
class Table:
    """A topic's table: the contract its messages follow, columns, sorting key (its last element is the dedupe
    id)."""

    name: str
    topic: str
    contract: str
    columns: tuple[Column, ...]
    order_by: tuple[str, ...]
    comment: str = ""

    @property
    def inserted_columns(self) -> list[str]:
        """The columns an insert fills from the messages' fields."""
        return [c.name for c in self.columns if not c.default]

    def create_sql(self, database: str) -> str:
        """Idempotent ``CREATE TABLE IF NOT EXISTS``."""
        cols = ",\n    ".join(c.ddl() for c in self.columns)
        key = ", ".join(quote_ident(k) for k in self.order_by)
        comment = f"\nCOMMENT '{self.comment}'" if self.comment else ""
        return (
            f"CREATE TABLE IF NOT EXISTS {quote_ident(database)}.{quote_ident(self.name)} (\n    {cols}\n)\n"
            f"ENGINE = ReplacingMergeTree\nORDER BY ({key}){comment}"
        )

    def add_columns_sql(self, database: str) -> str:
        """Adds the columns a table made by an earlier version lacks (new contract fields); a no-op otherwise."""
        adds = ",\n    ".join(f"ADD COLUMN IF NOT EXISTS {c.ddl()}" for c in self.columns)
        return f"ALTER TABLE {quote_ident(database)}.{quote_ident(self.name)}\n    {adds}"


TABLES: tuple[Table, ...] = (
    Table(
        "ledger",
        "loyalty.ledger.v1",
        "LedgerEntry",
        (
            col("entry_id", ID),
            col("member_id", ID),
            col("event_id", ID),
            col("occurred_at", TIME),
            col("reason", LABEL),
            col("points", INT),
            col("balance_after", INT),
            col("order_id", OPT),
            col("line_id", OPT),
            col("detail", "String"),
            col("cause", OPT_LABEL),
            col("available_at", f"Nullable({TIME})"),
            col("seq", "UInt16"),
        ),
        ("member_id", "entry_id"),
        "LedgerEntry: one signed change of a member balance",
    ),
    Table(
        "rewards",
        "loyalty.rewards.v1",
        "RewardIssued",
        (
            col("reward_id", ID),
            col("member_id", ID),
            col("event_id", ID),
            col("occurred_at", TIME),
            col("reward", LABEL),
            col("points", INT),
            col("detail", "String"),
        ),
        ("member_id", "reward_id"),
        "RewardIssued",
    ),
    Table(
        "triggers",
        "loyalty.triggers.v1",
        "Trigger",
        (
            col("trigger_id", ID),
            col("member_id", ID),
            col("event_id", ID),
            col("occurred_at", TIME),
            col("kind", LABEL),
            col("message", "String"),
            col("attributes", "Map(LowCardinality(String), String)"),
        ),
        ("member_id", "trigger_id"),
        "Trigger: a moment to tell a member about",
    ),
    Table(
        "tier_changes",
        "loyalty.tiers.v1",
        "TierChanged",
        (
            col("change_id", ID),
            col("member_id", ID),
            col("event_id", ID),
            col("occurred_at", TIME),
            col("from_tier", LABEL),
            col("to_tier", LABEL),
            col("qualifying_spend_minor", INT),
            col("reason", LABEL),
            col("number", INT),
        ),
        ("member_id", "change_id"),
        "TierChanged",
    ),
    Table(
        "activity",
        "loyalty.activity.v1",
        "Activity",
        (
            col("event_id", ID),
            col("member_id", ID),
            col("occurred_at", TIME),
            col("event_type", LABEL),
            col("channel", OPT_LABEL),
            col("store_id", OPT),
            col("currency", OPT_LABEL),
            col("amount_minor", INT),
            col("points", INT),
            col("order_id", OPT),
            Column("lines", f"Array({ACTIVITY_LINE})", ephemeral=True),
            col("line_id", "Array(String)", "lines.line_id"),
            col("line_sku", "Array(String)", "lines.sku"),
            col("line_category", "Array(LowCardinality(String))", "lines.category"),
            col("line_quantity", "Array(Int64)", "lines.quantity"),
            col("line_amount_minor", "Array(Int64)", "lines.amount_minor"),
            col("line_points", "Array(Int64)", "lines.points"),
            col("survey", OPT_LABEL),
            col("score", "Nullable(Int8)"),
            col("segments", "Array(LowCardinality(String))"),
        ),
        ("member_id", "event_id"),
        "Activity: accepted input events; lines as parallel arrays (line_*)",
    ),
    Table(
        "settlements",
        "loyalty.settlements.v1",
        "SettlementEntry",
        (
            col("settlement_id", ID),
            col("partner_id", LABEL),
            col("member_id", ID),
            col("event_id", ID),
            col("occurred_at", TIME),
            col("kind", LABEL),
            col("points", INT),
            col("amount_minor", INT),
            col("currency", LABEL),
            col("detail", "String"),
        ),
        ("partner_id", "settlement_id"),
        "SettlementEntry: positive amount_minor = the partner owes the program",
    ),
    Table(
        "dead_letters",
        "loyalty.deadletter.v1",
        "DeadLetter",
        (
            col("dead_letter_id", ID),
            col("stage", LABEL),
            col("reason", "String"),  # free text with details, too varied for LowCardinality
            col("event_id", OPT),
            col("topic", LABEL),
            col("partition", INT),
            col("offset", INT),
            col("key", OPT),  # bytes: String holds any bytes; read back with column_formats='bytes'
            col("value", OPT),
            col("recorded_at", TIME),
            col("member_id", OPT),
        ),
        ("dead_letter_id",),
        "DeadLetter: original bytes (PAN masked) and why it was rejected",
    ),
    Table(
        "erasures",
        "loyalty.erasures.v1",
        "Erasure",
        (
            col("erasure_id", ID),
            col("member_id", ID),
            col("event_id", ID),
            col("occurred_at", TIME),
        ),
        ("member_id", "erasure_id"),
        "Erasure: a member erased at their request; their rows are deleted from the member tables",
    ),
)

TABLES_BY_TOPIC: dict[str, Table] = {t.topic: t for t in TABLES}
# The tables holding rows of one member each, which an erasure deletes.
MEMBER_TABLES = tuple(t.name for t in TABLES
                      if t.name != "erasures" and any(c.name == "member_id" for c in t.columns))


def _views(db: str) -> dict[str, str]:
    """View name → SELECT. Views read FINAL so they are exact with replayed rows."""
    q = quote_ident(db)
    return {
        # Purchases and returns (negative amount and points) only.
        "purchases": f"SELECT * FROM {q}.activity FINAL WHERE event_type IN ('purchase', 'return')",
        # What each coalition partner owes the program (negative: what the program owes it), per currency.
        "partner_balances": f"""
SELECT partner_id, currency, sum(amount_minor) AS owed_minor,
       sumIf(points, kind IN ('earn', 'return')) AS points_earned,
       -sumIf(points, kind IN ('burn', 'burn_cancelled')) AS points_spent
FROM {q}.settlements FINAL GROUP BY partner_id, currency
""".strip(),
        # One row per known member. Parameterized: SELECT * FROM members(base_tier='base').
        # The tier is the to_tier of the last change applied (by its number), else the base tier.
        "members": f"""
SELECT
    m.member_id AS member_id,
    if(t.member_id = '', {{base_tier:String}}, toString(t.tier)) AS tier,
    l.balance AS balance,
    l.lifetime_points AS lifetime_points,
    l.pending_points AS pending_points,
    l.entries AS ledger_entries,
    a.purchases AS purchases,
    a.returns AS returns,
    a.spend_minor AS spend_minor,
    a.enrolled AS enrolled,
    if(a.member_id = '', NULL, a.last_activity_at) AS last_activity_at
FROM (
    SELECT member_id FROM {q}.activity
    UNION DISTINCT SELECT member_id FROM {q}.ledger
    UNION DISTINCT SELECT member_id FROM {q}.tier_changes
) AS m
LEFT JOIN (
    SELECT member_id, argMax(to_tier, (number, occurred_at, change_id)) AS tier
    FROM {q}.tier_changes FINAL GROUP BY member_id
) AS t ON t.member_id = m.member_id
LEFT JOIN (
    SELECT member_id, sum(points) AS balance, sumIf(points, {EARNED}) AS lifetime_points,
           sumIf(points, available_at > now64(3)) AS pending_points,
           count() AS entries
    FROM {q}.ledger FINAL GROUP BY member_id
) AS l ON l.member_id = m.member_id
LEFT JOIN (
    SELECT member_id,
           countIf(event_type = 'purchase') AS purchases,
           countIf(event_type = 'return') AS returns,
           sumMapIf(map(assumeNotNull(currency), amount_minor),
                    event_type IN ('purchase', 'return') AND currency IS NOT NULL) AS spend_minor,
           countIf(event_type = 'enrolled') > 0 AS enrolled,
           max(occurred_at) AS last_activity_at
    FROM {q}.activity FINAL GROUP BY member_id
) AS a ON a.member_id = m.member_id
""".strip(),
        # One row per member who bought, as of a time, with a churn risk a marketer can act on.
        # Parameterized: SELECT * FROM customers(as_of='2026-11-24 00:00:00', period_days=90).
        # lapsed: no purchase for period_days; at_risk: none for half of it, or for twice the member's
        # usual gap between purchases (at least a week: two purchases in one afternoon set no pace).
        "customers": f"""
SELECT member_id, purchases, first_purchase_at, last_purchase_at,
       intDiv(dateDiff('second', last_purchase_at, {{as_of:DateTime64(3, 'UTC')}}), 86400)
           AS days_since_last_purchase,
       if(purchases > 1,
          greatest(intDiv(intDiv(dateDiff('second', first_purchase_at, last_purchase_at), 86400), purchases - 1),
                   {MIN_USUAL_GAP_DAYS}),
          NULL) AS usual_gap_days,
       multiIf(days_since_last_purchase >= {{period_days:UInt32}}, 'lapsed',
               days_since_last_purchase * 2 >= {{period_days:UInt32}}
                   OR ifNull(days_since_last_purchase > 2 * usual_gap_days, false), 'at_risk',
               'active') AS churn_risk
FROM (
    SELECT member_id, count() AS purchases, min(occurred_at) AS first_purchase_at, max(occurred_at) AS last_purchase_at
    FROM {q}.activity FINAL
    WHERE event_type = 'purchase' AND occurred_at <= {{as_of:DateTime64(3, 'UTC')}}
    GROUP BY member_id
)
""".strip(),
    }


VIEWS: tuple[str, ...] = ("purchases", "partner_balances", "members", "customers")

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def quote_ident(name: str) -> str:
    """Back-quote a plain identifier; anything else is refused (names are never user input)."""
    if not _IDENT.match(name):
        raise ValueError(f"not a plain ClickHouse identifier: {name!r}")
    return f"`{name}`"


def create_statements(database: str) -> list[str]:
    """Every statement to create the schema, or bring an earlier version's up to date, each idempotent, in
    dependency order."""
    q = quote_ident(database)
    views = _views(database)
    return [
        f"CREATE DATABASE IF NOT EXISTS {q}",
        *(t.create_sql(database) for t in TABLES),
        *(t.add_columns_sql(database) for t in TABLES),
        *(f"CREATE OR REPLACE VIEW {q}.{quote_ident(v)} AS\n{views[v]}" for v in VIEWS),
    ]
