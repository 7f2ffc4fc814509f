"""Analytics over the loyalty tables, each computed in ClickHouse, returned as plain values.

Points and money are ``int`` (money in minor units, always next to its currency:
sums never mix currencies); rates are integer basis points, rounded down. Every query
reads through ``FINAL`` (directly or via the ``purchases`` / ``members`` views), so a
replayed output row never counts twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from processors.program import Program
from sinks.clickhouse import ClickHouseStore
from sinks.tables import EARNED

__all__ = [
    "BREAKDOWNS",
    "average_order_value",
    "breakdown",
    "campaign_return",
    "churn",
    "churn_risk",
    "customer_value",
    "dead_letters",
    "latest_event_time",
    "leaderboard",
    "member_ledger",
    "member_summary",
    "net_promoter_score",
    "points_liability_by_tier",
    "program_summary",
    "redemption_rate",
    "refused_before_enrolment",
    "refused_unknown_card",
    "repeat_purchase_rate",
    "reward_cost",
    "top_categories",
    "upsell",
    "visit_frequency",
]

BASIS_POINTS = 10_000
# Figures as of a time (event time: a replayed history reads as it was): the ClickHouse query parameter as_of, so that
# the Grafana dashboard (``sinks.dashboard``) runs the very same queries with the end of its time range.
AS_OF = "{as_of:DateTime64(3, 'UTC')}"
PERIOD_START = f"({AS_OF} - toIntervalDay({{period_days:UInt32}}))"
PERIOD_BEFORE_START = f"({AS_OF} - toIntervalDay(2 * {{period_days:UInt32}}))"
# The entries by which a return takes back what its order earned: its points, its campaign points, the referral's.
TAKEN_BACK = "points < 0 AND reason IN ('return', 'campaign', 'referral')"
# Points spent: on rewards, or paying part of an order; less those given back (a cancelled redemption, a refund).
SPENT = "reason IN ('redemption', 'redemption_cancelled', 'points_payment', 'points_refund')"


def member_ledger(store: ClickHouseStore, member_id: str) -> list[dict[str, Any]]:
    """A member's ledger entries in event-time order (a statement the member can read).

    ``balance_after`` is the balance when the engine applied the entry, in arrival
    order; ``running_balance`` sums the entries in the statement's own order, so
    the statement adds up line by line even when events arrived out of order.
    """
    return store.rows(
        """
        SELECT entry_id, event_id, occurred_at, toString(reason) AS reason, points, balance_after,
               sum(points) OVER (ORDER BY occurred_at, event_id, seq, entry_id ROWS UNBOUNDED PRECEDING)
                   AS running_balance,
               order_id, line_id, detail
        FROM $db.ledger FINAL
        WHERE member_id = {member_id:String}
        ORDER BY occurred_at, event_id, seq, entry_id
        """,
        {"member_id": member_id},
    )


def member_pending(store: ClickHouseStore, member_id: str, time_zone: str = "UTC") -> list[dict[str, Any]]:
    """The member's points still pending, by the day (in the program's ``time_zone``) they can be spent, soonest
    first (they add up to the summary's ``pending_points``)."""
    return store.rows(
        """
        SELECT toDate(available_at, {time_zone:String}) AS day, sum(points) AS points
        FROM $db.ledger FINAL
        WHERE member_id = {member_id:String} AND available_at > now64(3)
        GROUP BY day HAVING points != 0
        ORDER BY day
        """,
        {"member_id": member_id, "time_zone": time_zone},
    )


def member_segments(store: ClickHouseStore, member_id: str) -> list[str]:
    """The marketing segments the member was last put in (by the latest ``MemberSegments``), for campaigns that
    target segments."""
    rows = store.rows(
        """
        SELECT segments FROM $db.activity FINAL
        WHERE member_id = {member_id:String} AND event_type = 'segments'
        ORDER BY occurred_at DESC, event_id DESC LIMIT 1
        """,
        {"member_id": member_id},
    )
    return list(rows[0]["segments"]) if rows else []


def member_summary(store: ClickHouseStore, member_id: str, base_tier: str) -> dict[str, Any] | None:
    """Balance, tier, lifetime points, purchases and net spend per currency; None if unknown.

    ``lifetime_points`` is the sum of the points earned (before returns and
    redemptions; spent points given back are not earned); ``balance`` is the sum of all entries, of which
    ``pending_points`` cannot be spent yet (purchases still inside the program's pending days).
    """
    rows = store.rows(
        """
        SELECT member_id, tier, balance, lifetime_points, pending_points, ledger_entries, purchases, returns,
               spend_minor, enrolled, last_activity_at
        FROM $db.members(base_tier = {base_tier:String})
        WHERE member_id = {member_id:String}
        """,
        {"member_id": member_id, "base_tier": base_tier},
    )
    if not rows:
        return None
    row = rows[0]
    row["spend_minor"] = dict(sorted(row["spend_minor"].items()))
    row["enrolled"] = bool(row["enrolled"])
    return row


# A refused event, with whether it was applied since (sent again once fixed, or anew by its source).
_LETTERS = """
SELECT {extra}dead_letter_id, toString(stage) AS stage, reason, event_id, member_id, toString(topic) AS topic,
       partition, offset, key, value, recorded_at,
       stage != 'sink' AND ifNull(event_id, '') IN (
           SELECT event_id FROM $db.activity
           WHERE event_id IN (SELECT assumeNotNull(event_id) FROM $db.dead_letters WHERE event_id IS NOT NULL)
       ) AS applied
FROM $db.dead_letters FINAL
"""


def dead_letters(store: ClickHouseStore, stage: str | None = None, reason: str = "",
                 limit: int | None = None, include_applied: bool = False) -> list[dict[str, Any]]:
    """The rejected inputs, latest first, with their original bytes, for an operator to fix and send again.

    ``reason`` keeps those whose reason contains it (any case); ``stage`` those of one stage.
    ``applied`` says whether the refused event was applied since (sent again once fixed, or
    anew by its source): those are left out unless ``include_applied``. A letter of the sink
    stage is an output, never applied again.
    """
    return store.rows(
        _LETTERS.format(extra="") + """
        WHERE ({stage:Nullable(String)} IS NULL OR stage = {stage:Nullable(String)})
          AND positionCaseInsensitiveUTF8(reason, {reason:String}) > 0
          AND ({include_applied:Bool} OR NOT applied)
        ORDER BY recorded_at DESC, dead_letter_id
        """ + ("" if limit is None else "LIMIT {limit:UInt64}"),
        {"stage": stage, "reason": reason, "limit": limit, "include_applied": include_applied},
        column_formats={"key": "bytes", "value": "bytes"},
    )


def refused_before_enrolment(store: ClickHouseStore, reason_start: str) -> list[dict[str, Any]]:
    """The events refused because their member was unknown and not applied since, oldest first (a return after
    its purchase), with ``enrolled``: whether the member has enrolled since.

    Their reason is ``reason_start``, the member id and a colon (``refusals.unknown_member_reason``).
    """
    return _refused_oldest_first(
        store, "stage = 'member' AND for_unknown_member", {"start": reason_start},
        with_="WITH startsWith(reason, concat({start:String}, ifNull(member_id, ''), ':')) AS for_unknown_member",
        extra="""toBool(member_id IN (
           SELECT member_id FROM $db.activity WHERE event_type = 'enrolled' AND member_id IN (
               SELECT member_id FROM $db.dead_letters WHERE stage = 'member' AND for_unknown_member))
       ) AS enrolled, """)


def refused_unknown_card(store: ClickHouseStore, reason_start: str) -> list[dict[str, Any]]:
    """The card transactions ingest refused because their card was not linked, and not applied since, oldest first.

    Their reason starts with ``reason_start``. Whether a card is linked now only the cards topic knows.
    """
    return _refused_oldest_first(store, "stage = 'ingest' AND startsWith(reason, {start:String})",
                                 {"start": reason_start})


def _refused_oldest_first(store: ClickHouseStore, where: str, parameters: dict[str, Any], with_: str = "",
                          extra: str = "") -> list[dict[str, Any]]:
    """The dead letters ``where`` says, not applied since, in the order they were refused."""
    return store.rows(
        with_ + _LETTERS.format(extra=extra) + f"WHERE {where} AND NOT applied ORDER BY recorded_at, partition, offset",
        parameters,
        column_formats={"key": "bytes", "value": "bytes"},
    )


PROGRAM_SQL = f"""
SELECT
    (SELECT uniqExact(member_id) FROM $db.activity FINAL WHERE event_type = 'enrolled' AND occurred_at <= {AS_OF})
        AS members,
    (SELECT sumIf(points, {EARNED}) FROM $db.ledger FINAL WHERE occurred_at <= {AS_OF}) AS points_issued,
    (SELECT sum(points) FROM $db.ledger FINAL WHERE occurred_at <= {AS_OF}) AS points_outstanding,
    (SELECT count() FROM ({_LETTERS.format(extra="")}) WHERE NOT applied) AS dead_letters,
    (SELECT count() FROM $db.activity FINAL WHERE occurred_at <= {AS_OF}) AS events_accepted"""


def program_summary(store: ClickHouseStore, base_tier: str, as_of: datetime) -> dict[str, Any]:
    """The program at a glance: members, points issued and outstanding (liability) as of ``as_of``; tiers and dead
    letters as they are now.

    ``members`` counts members with an ``enrolled`` event; ``members_per_tier`` covers
    every member seen in activity, ledger or tier changes (``known_members`` in total);
    ``dead_letters`` the refusals ``loyalty deadletters`` lists: those not applied since.
    """
    summary = store.rows(PROGRAM_SQL, {"as_of": as_of})[0]
    tiers = store.rows(
        """
        SELECT tier, count() AS members
        FROM $db.members(base_tier = {base_tier:String})
        GROUP BY tier ORDER BY tier
        """,
        {"base_tier": base_tier},
    )
    summary["members_per_tier"] = {r["tier"]: r["members"] for r in tiers}
    summary["known_members"] = sum(summary["members_per_tier"].values())
    return summary


# -- marketing KPIs -------------------------------------------------------------------


AOV_SQL = f"""
SELECT toNullable(toString(channel)) AS channel, toString(currency) AS currency,
       count() AS orders, sum(amount_minor) AS revenue_minor,
       intDiv(sum(amount_minor), count()) AS aov_minor
FROM $db.purchases
WHERE event_type = 'purchase' AND currency IS NOT NULL AND occurred_at <= {AS_OF}
GROUP BY channel, currency
ORDER BY currency, revenue_minor DESC, channel
"""


def average_order_value(store: ClickHouseStore, as_of: datetime) -> list[dict[str, Any]]:
    """Average order value per channel and currency up to ``as_of``: purchase spend / purchases, rounded down.

    Gross of returns (a return may come back through another channel than the sale).
    A purchase without a channel is reported under channel ``None``.
    """
    return store.rows(AOV_SQL, {"as_of": as_of})


REPEAT_SQL = f"""
SELECT count() AS buyers, countIf(n >= 2) AS repeat_buyers,
       intDiv(repeat_buyers * {BASIS_POINTS}, greatest(buyers, 1)) AS rate_bp
FROM (SELECT member_id, count() AS n FROM $db.purchases WHERE event_type = 'purchase' AND occurred_at <= {AS_OF}
      GROUP BY member_id)
"""


def repeat_purchase_rate(store: ClickHouseStore, as_of: datetime) -> dict[str, int]:
    """Share of the members who bought up to ``as_of`` who bought at least twice, in basis points (rounded down)."""
    return store.rows(REPEAT_SQL, {"as_of": as_of})[0]


# A return's lines name no category (the member's state keeps none), so each takes the category its line was sold
# in: the purchase line of the same member, order and line id.
_ORDER_LINES = f"""
    SELECT event_id, event_type, member_id, ifNull(order_id, '') AS order_id, toString(currency) AS currency,
           line_id, toString(line_category) AS category, line_amount_minor, line_points
    FROM $db.purchases
    ARRAY JOIN line_id, line_category, line_amount_minor, line_points
    WHERE currency IS NOT NULL AND occurred_at <= {AS_OF}"""
TOP_CATEGORIES_SQL = f"""
SELECT if(l.category = '', s.category, l.category) AS category, l.currency AS currency,
       sum(l.line_amount_minor) AS spend_minor, sum(l.line_points) AS points,
       uniqExactIf(l.event_id, l.event_type = 'purchase') AS orders
FROM ({_ORDER_LINES}) AS l
LEFT JOIN (
    SELECT member_id, order_id, line_id, any(category) AS category
    FROM ({_ORDER_LINES})
    WHERE event_type = 'purchase'
    GROUP BY member_id, order_id, line_id
) AS s ON s.member_id = l.member_id AND s.order_id = l.order_id AND s.line_id = l.line_id
GROUP BY category, currency
ORDER BY spend_minor DESC, category, currency
LIMIT {{limit:UInt32}}
"""


def top_categories(store: ClickHouseStore, as_of: datetime, limit: int = 10) -> list[dict[str, Any]]:
    """Product categories by net spend per currency up to ``as_of``, from the order lines: a returned line subtracts
    from the category it was sold in."""
    return store.rows(TOP_CATEGORIES_SQL, {"as_of": as_of, "limit": limit})


TRIGGERS_BY_KIND_SQL = f"""
SELECT kind, count() AS triggers
FROM $db.triggers FINAL
WHERE occurred_at <= {AS_OF}
GROUP BY kind
ORDER BY triggers DESC, kind
"""


def triggers_by_kind(store: ClickHouseStore, as_of: datetime) -> dict[str, int]:
    """How many triggers of each kind the engine sent downstream systems up to ``as_of``, most first (a re-emitted
    one counts once)."""
    return {row["kind"]: row["triggers"] for row in store.rows(TRIGGERS_BY_KIND_SQL, {"as_of": as_of})}


LIABILITY_BY_TIER_SQL = """
SELECT tier, count() AS members, sum(balance) AS points_outstanding
FROM $db.members(base_tier = {base_tier:String})
GROUP BY tier
ORDER BY points_outstanding DESC, tier
"""


def points_liability_by_tier(store: ClickHouseStore, base_tier: str) -> list[dict[str, Any]]:
    """Outstanding points (the program's liability) and member count per current tier."""
    return store.rows(LIABILITY_BY_TIER_SQL, {"base_tier": base_tier})


LEADERBOARD_SQL = f"""
SELECT l.member_id AS member_id, l.earned AS points, l.reached_at AS reached_at,
       ifNull(b.badges, []) AS badges
FROM (
    SELECT member_id, sum(points) AS earned, max(occurred_at) AS reached_at
    FROM $db.ledger FINAL
    WHERE occurred_at >= {{since:DateTime64(3, 'UTC')}} AND occurred_at <= {AS_OF}
      AND ({EARNED} OR {TAKEN_BACK})
    GROUP BY member_id
) AS l
LEFT JOIN (
    SELECT member_id, groupArray(toString(reward)) AS badges
    FROM (SELECT member_id, reward FROM $db.rewards FINAL WHERE reward_id LIKE '%:badge:%' ORDER BY reward)
    GROUP BY member_id
) AS b ON b.member_id = l.member_id
ORDER BY points DESC, reached_at, member_id
LIMIT {{limit:UInt32}}
"""


def leaderboard(store: ClickHouseStore, since: Any, as_of: datetime, limit: int = 10) -> list[dict[str, Any]]:
    """Members by points earned from ``since`` to ``as_of`` (purchases, bonuses; net of returns; spending and
    expiry not counted), with their badges; ties go to the member who got there first."""
    return store.rows(LEADERBOARD_SQL, {"since": since, "as_of": as_of, "limit": limit})


# -- churn, customer value and the rest, as of a time and over a period ------------------------------------------
#
# Each is one SQL text with the parameters as_of and period_days, the dashboard's time and period.



def latest_event_time(store: ClickHouseStore) -> datetime | None:
    """The time of the latest accepted event: what "now" is for a feed's history; None before any."""
    latest = store.scalar("SELECT if(count() = 0, NULL, max(occurred_at)) FROM $db.activity FINAL")
    return latest if isinstance(latest, datetime) else None


def _as_of(as_of: datetime, period_days: int, **more: Any) -> dict[str, Any]:
    return {"as_of": as_of, "period_days": period_days, **more}


# Of the members who bought in the period before the last one (the cohort), how many bought again in the last.
CHURN_SQL = f"""
SELECT count() AS cohort, countIf(again) AS retained, cohort - retained AS churned,
       intDiv(churned * {BASIS_POINTS}, greatest(cohort, 1)) AS churn_rate_bp,
       intDiv(retained * {BASIS_POINTS}, greatest(cohort, 1)) AS retention_rate_bp
FROM (
    SELECT member_id, max(occurred_at > {PERIOD_START}) AS again
    FROM $db.purchases
    WHERE event_type = 'purchase' AND occurred_at > {PERIOD_BEFORE_START} AND occurred_at <= {AS_OF}
    GROUP BY member_id
    HAVING min(occurred_at) <= {PERIOD_START}
)"""


def churn(store: ClickHouseStore, as_of: datetime, period_days: int = 90) -> dict[str, int]:
    """Of the members who bought in the period before the last ``period_days``, how many did not buy in it.

    ``cohort`` bought in (as_of - 2 periods, as_of - 1 period]; ``retained`` of them bought
    again in (as_of - 1 period, as_of], the last period as every other figure counts it; rates in basis points,
    rounded down (0 with no cohort).
    """
    return store.rows(CHURN_SQL, _as_of(as_of, period_days))[0]


CHURN_RISK_SQL = f"""
SELECT churn_risk, count() AS members
FROM $db.customers(as_of = {AS_OF}, period_days = {{period_days:UInt32}})
GROUP BY churn_risk
ORDER BY churn_risk"""


def churn_risk(store: ClickHouseStore, as_of: datetime, period_days: int = 90) -> dict[str, int]:
    """How many buying members are ``active``, ``at_risk`` or ``lapsed`` (see the ``customers`` view)."""
    found = {row["churn_risk"]: row["members"] for row in store.rows(CHURN_RISK_SQL, _as_of(as_of, period_days))}
    return {risk: found.get(risk, 0) for risk in ("active", "at_risk", "lapsed")}


CUSTOMER_VALUE_SQL = f"""
SELECT v.currency AS currency, v.buyers AS buyers, v.net_spend_minor AS net_spend_minor,
       v.value_so_far_minor AS value_so_far_minor, v.period_buyers AS period_buyers,
       v.period_spend_minor AS period_spend_minor, v.period_value_minor AS period_value_minor,
       if(c.churned > 0, intDiv(v.period_value_minor * toInt64(c.retained), toInt64(c.churned)), NULL)
           AS projected_value_minor
FROM (
    SELECT toString(currency) AS currency,
           uniqExactIf(member_id, event_type = 'purchase') AS buyers,
           sum(amount_minor) AS net_spend_minor,
           intDiv(net_spend_minor, greatest(buyers, 1)) AS value_so_far_minor,
           uniqExactIf(member_id, event_type = 'purchase' AND occurred_at > {PERIOD_START}) AS period_buyers,
           sumIf(amount_minor, occurred_at > {PERIOD_START}) AS period_spend_minor,
           intDiv(period_spend_minor, greatest(period_buyers, 1)) AS period_value_minor
    FROM $db.purchases
    WHERE currency IS NOT NULL AND occurred_at <= {AS_OF}
    GROUP BY currency
) AS v
CROSS JOIN ({CHURN_SQL}) AS c
ORDER BY currency"""


def customer_value(store: ClickHouseStore, as_of: datetime, period_days: int = 90) -> list[dict[str, Any]]:
    """Customer lifetime value per currency, net of returns, rounded down.

    ``value_so_far_minor``: net spend per buyer up to ``as_of`` (historical CLV).
    ``period_value_minor``: net spend per buyer in the last ``period_days``.
    ``projected_value_minor``: what a buyer is worth over the time they are expected to stay,
    ``period value x retention / churn`` (the no-discount CLV formula m·r/(1-r), per period,
    with the counts ``churn`` finds for the same day and period, exactly: retained / churned); None until churn
    has been observed.
    """
    return store.rows(CUSTOMER_VALUE_SQL, _as_of(as_of, period_days))


REDEMPTION_SQL = f"""
SELECT sumIf(points, {EARNED} OR {TAKEN_BACK}) AS points_earned,
       -sumIf(points, {SPENT}) AS points_redeemed,
       intDiv(greatest(points_redeemed, 0) * {BASIS_POINTS}, greatest(points_earned, 1)) AS redemption_rate_bp
FROM $db.ledger FINAL
WHERE occurred_at <= {AS_OF}"""


def redemption_rate(store: ClickHouseStore, as_of: datetime) -> dict[str, int]:
    """Points redeemed, for rewards or paying part of an order (net of cancellations and of what refunds gave
    back), against points earned (net of what returns took back), up to ``as_of``, in basis points."""
    return store.rows(REDEMPTION_SQL, {"as_of": as_of})[0]


VISITS_SQL = f"""
SELECT countIf(days_since_last_purchase < {{period_days:UInt32}}) AS buyers,
       (SELECT count() FROM $db.purchases
        WHERE event_type = 'purchase' AND occurred_at > {PERIOD_START} AND occurred_at <= {AS_OF}) AS purchases,
       toUInt32(quantileExactLowIf(0.5)(usual_gap_days, days_since_last_purchase < {{period_days:UInt32}}))
           AS median_gap_days
FROM $db.customers(as_of = {AS_OF}, period_days = {{period_days:UInt32}})"""


def visit_frequency(store: ClickHouseStore, as_of: datetime, period_days: int = 90) -> dict[str, int]:
    """Purchases and buyers in the last ``period_days``, and the median (the lower middle one) of those buyers' usual
    days between purchases (of those who bought twice or more; see the ``customers`` view), or None."""
    return store.rows(VISITS_SQL, _as_of(as_of, period_days))[0]


REWARD_COST_SQL = f"""
SELECT (SELECT sumIf(points, {EARNED} OR {TAKEN_BACK}) FROM $db.ledger FINAL
        WHERE occurred_at > {PERIOD_START} AND occurred_at <= {AS_OF}) AS points_earned,
       points_earned * {{point_value_minor:UInt64}} AS cost_minor,
       (SELECT sum(amount_minor) FROM $db.purchases
        WHERE currency = {{currency:String}} AND occurred_at > {PERIOD_START} AND occurred_at <= {AS_OF})
           AS net_spend_minor,
       if(net_spend_minor > 0, intDiv(cost_minor * {BASIS_POINTS}, net_spend_minor), NULL) AS cost_rate_bp"""


def reward_cost(store: ClickHouseStore, as_of: datetime, point_value_minor: int, currency: str,
                period_days: int = 90) -> dict[str, int]:
    """What the points earned in the last ``period_days`` cost at ``point_value_minor`` each, against the members'
    net spend in ``currency`` then: ``cost_rate_bp`` is the share of that spend given back as points (rounded down;
    None without spend, or with more refunded than bought: no share of it).

    Both are net of returns: the points a return takes back cost nothing, as its refund is no spend.
    """
    return store.rows(REWARD_COST_SQL, _as_of(as_of, period_days, point_value_minor=point_value_minor,
                                              currency=currency))[0]


# Members outside the holdout (see processors.holdout) against those in it: what the members spent in the period
# beyond what they would have at the holdout's rate, the margin on that, and what the campaigns' points cost.
CAMPAIGN_RETURN_SQL = f"""
SELECT countIf(NOT held_out) AS members, countIf(held_out) AS holdout_members,
       toInt64(sumIf(spent_minor, NOT held_out)) AS spend_minor,
       toInt64(sumIf(spent_minor, held_out)) AS holdout_spend_minor,
       intDiv(spend_minor, greatest(members, 1)) AS spend_per_member_minor,
       intDiv(holdout_spend_minor, greatest(holdout_members, 1)) AS holdout_spend_per_member_minor,
       spend_minor - intDiv(holdout_spend_minor * toInt64(members), greatest(holdout_members, 1))
           AS incremental_spend_minor,
       intDiv(incremental_spend_minor * {{gross_margin_bp:UInt16}}, {BASIS_POINTS}) AS incremental_margin_minor,
       (SELECT sum(points) FROM $db.ledger FINAL
        WHERE reason = 'campaign' AND occurred_at > {PERIOD_START} AND occurred_at <= {AS_OF}) AS campaign_points,
       toInt64(campaign_points) * {{point_value_minor:UInt64}} AS cost_minor,
       if(cost_minor > 0 AND holdout_members > 0,
          intDiv((incremental_margin_minor - cost_minor) * {BASIS_POINTS}, greatest(cost_minor, 1)), NULL) AS roi_bp
FROM (
    SELECT member_id, CRC32(member_id) % {BASIS_POINTS} < {{holdout_bp:UInt16}} AS held_out
    FROM $db.activity FINAL
    WHERE event_type = 'enrolled' AND occurred_at <= {AS_OF}
    GROUP BY member_id
) AS enrolled
LEFT JOIN (
    SELECT member_id, sum(amount_minor) AS spent_minor
    FROM $db.purchases
    WHERE currency = {{currency:String}} AND occurred_at > {PERIOD_START} AND occurred_at <= {AS_OF}
    GROUP BY member_id
) AS spent USING member_id"""


def campaign_return(store: ClickHouseStore, as_of: datetime, program: Program, period_days: int = 90,
                    ) -> dict[str, Any]:
    """What campaigns and offers brought in the last ``period_days``, measured against the program's holdout.

    The members outside the holdout spent ``incremental_spend_minor`` more than
    they would have at the holdout's spend per member; ``incremental_margin_minor``
    is the program's gross margin on it, and ``roi_bp`` that margin less the
    campaign points' cost, against the cost (None while nothing was paid or nobody
    is held out). Net spend is in the program's currency; every division rounds
    toward zero.
    """
    return store.rows(CAMPAIGN_RETURN_SQL, _as_of(
        as_of, period_days, holdout_bp=program.holdout_bp, gross_margin_bp=program.gross_margin_bp,
        point_value_minor=program.point_value_minor, currency=program.currency))[0]


# Buyers who bought both in the period and before it, and whether their order value grew (compared exactly, by
# cross-multiplying: spend x orders).
UPSELL_SQL = f"""
SELECT count() AS returning_buyers,
       countIf(recent_spend * earlier_orders > earlier_spend * recent_orders) AS upsold,
       intDiv(upsold * {BASIS_POINTS}, greatest(returning_buyers, 1)) AS upsell_rate_bp,
       intDiv(sum(earlier_spend), greatest(sum(earlier_orders), 1)) AS earlier_aov_minor,
       intDiv(sum(recent_spend), greatest(sum(recent_orders), 1)) AS recent_aov_minor
FROM (
    SELECT member_id,
           countIf(occurred_at > {PERIOD_START}) AS recent_orders,
           sumIf(amount_minor, occurred_at > {PERIOD_START}) AS recent_spend,
           countIf(occurred_at <= {PERIOD_START}) AS earlier_orders,
           sumIf(amount_minor, occurred_at <= {PERIOD_START}) AS earlier_spend
    FROM $db.purchases
    WHERE event_type = 'purchase' AND currency = {{currency:String}} AND occurred_at <= {AS_OF}
    GROUP BY member_id
    HAVING recent_orders > 0 AND earlier_orders > 0
)"""


def upsell(store: ClickHouseStore, as_of: datetime, currency: str, period_days: int = 90) -> dict[str, int]:
    """Upsell: of the buyers who bought in ``currency`` both in the last ``period_days`` and before, how many spent
    more an order in the period than before it (``upsell_rate_bp``), and those buyers' order value before and in
    the period (gross of returns, rounded down)."""
    return store.rows(UPSELL_SQL, _as_of(as_of, period_days, currency=currency))[0]


# -- Net Promoter Score -----------------------------------------------------------------------------------------

PROMOTER, DETRACTOR = 9, 6  # a 9 or 10 promotes, 0 to 6 detracts, 7 and 8 are passive

# Each member's latest 0-10 answer in the period, on whatever survey: one voice per member.
_LATEST_ANSWERS = f"""
    SELECT member_id, argMax(score, (occurred_at, event_id)) AS score
    FROM $db.activity FINAL
    WHERE event_type = 'survey' AND occurred_at > {PERIOD_START} AND occurred_at <= {AS_OF}
    GROUP BY member_id
"""
_NPS_COLUMNS = f"""
    countIf(score IS NOT NULL) AS respondents, countIf(score >= {PROMOTER}) AS promoters,
    countIf(score <= {DETRACTOR}) AS detractors, respondents - promoters - detractors AS passives,
    intDiv((toInt64(promoters) - toInt64(detractors)) * {BASIS_POINTS}, greatest(respondents, 1)) AS nps_bp
"""
NPS_SQL = f"SELECT {_NPS_COLUMNS} FROM ({_LATEST_ANSWERS})"


def net_promoter_score(store: ClickHouseStore, as_of: datetime, period_days: int = 90) -> dict[str, int]:
    """Net Promoter Score from the survey answers of the last ``period_days``, each member's latest counting once.

    ``nps_bp`` is promoters minus detractors as a share of those who answered, in basis
    points (-10,000 to 10,000; an NPS of +42 is 4,200), rounded toward zero; 0 with no answers.
    """
    return store.rows(NPS_SQL, _as_of(as_of, period_days))[0]


# -- breakdowns by segment --------------------------------------------------------------------------------------

# What each breakdown groups the members by: (member_id, balance, segment) for every member.
_GROUPS = {
    "tier": "SELECT member_id, balance, tier AS segment FROM $db.members(base_tier = {base_tier:String})",
    # The marketing segments of the member's latest segments event; a member in two counts in both.
    "segment": f"""
        SELECT m.member_id AS member_id, m.balance AS balance,
               arrayJoin(if(empty(s.segments), ['(none)'], s.segments)) AS segment
        FROM $db.members(base_tier = {{base_tier:String}}) AS m
        LEFT JOIN (
            SELECT member_id, argMax(segments, (occurred_at, event_id)) AS segments
            FROM $db.activity FINAL
            WHERE event_type = 'segments' AND occurred_at <= {AS_OF}
            GROUP BY member_id
        ) AS s ON s.member_id = m.member_id
    """,
    "churn_risk": f"""
        SELECT m.member_id AS member_id, m.balance AS balance,
               if(c.churn_risk = '', 'no purchase', c.churn_risk) AS segment
        FROM $db.members(base_tier = {{base_tier:String}}) AS m
        LEFT JOIN $db.customers(as_of = {AS_OF}, period_days = {{period_days:UInt32}}) AS c
            ON c.member_id = m.member_id
    """,
}
BREAKDOWNS = tuple(_GROUPS)


def breakdown_sql(by: str) -> str:
    """The breakdown's SQL; parameters as_of, period_days, base_tier and currency."""
    if by not in _GROUPS:
        raise ValueError(f"no breakdown by {by!r}: one of {', '.join(BREAKDOWNS)}")
    return f"""
SELECT g.segment AS segment, count() AS members, sum(g.balance) AS points_outstanding,
       countIf(p.orders > 0) AS buyers, countIf(p.orders > 1) AS repeat_buyers,
       intDiv(repeat_buyers * {BASIS_POINTS}, greatest(buyers, 1)) AS repeat_rate_bp,
       sum(p.orders) AS orders, sum(p.spend) AS spend_minor, sum(p.net_spend) AS net_spend_minor,
       intDiv(spend_minor, greatest(orders, 1)) AS aov_minor,
       intDiv(net_spend_minor, greatest(buyers, 1)) AS value_per_buyer_minor,
       {_NPS_COLUMNS}
FROM ({_GROUPS[by]}) AS g
LEFT JOIN (
    SELECT member_id, countIf(event_type = 'purchase') AS orders,
           sumIf(amount_minor, event_type = 'purchase') AS spend, sum(amount_minor) AS net_spend
    FROM $db.purchases
    WHERE currency = {{currency:String}} AND occurred_at <= {AS_OF}
    GROUP BY member_id
) AS p ON p.member_id = g.member_id
LEFT JOIN ({_LATEST_ANSWERS}) AS n ON n.member_id = g.member_id
GROUP BY segment
ORDER BY net_spend_minor DESC, segment"""


def breakdown(store: ClickHouseStore, by: str, as_of: datetime, base_tier: str, currency: str,
              period_days: int = 90) -> list[dict[str, Any]]:
    """The KPIs per ``by`` (one of ``BREAKDOWNS``): current tier, marketing segment, or churn risk as of ``as_of``.

    Per group: members, points outstanding (now); buyers, repeat buyers and their rate,
    orders, spend and net spend (returns subtract) in ``currency`` up to ``as_of``, average
    order value and net value per buyer (rounded down); and the group's Net Promoter Score
    over the last ``period_days``. Largest net spend first.
    """
    return store.rows(breakdown_sql(by), _as_of(as_of, period_days, base_tier=base_tier, currency=currency))
