"""A purchase in, exact points out, rows in ClickHouse: through the real broker, worker and chDB."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from brokers import BROKERS

from sinks import queries
from streams.demo import produce, wait_stored
from streams.processes import engine_processes

from .harness import engine

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def event(event_id: str, minutes: int, body: tuple[str, dict[str, Any]], member_id: str | None = None,
          card_token: str | None = None) -> dict[str, Any]:
    return {"event_id": event_id, "occurred_at": T0 + timedelta(minutes=minutes), "source": "webshop",
            "member_id": member_id, "card_token": card_token, "body": (f"loyalty.v1.{body[0]}", body[1])}


def purchase(order_id: str, *lines: tuple[str, int]) -> tuple[str, dict[str, Any]]:
    return ("Purchase", {
        "order_id": order_id, "channel": "web", "store_id": None, "currency": "SEK",
        "total_minor": sum(amount for _, amount in lines), "payment_method": "card",
        "lines": [{"line_id": str(n), "sku": f"SKU-{n}", "category": category, "quantity": 1, "amount_minor": amount}
                  for n, (category, amount) in enumerate(lines, 1)],
    })


def enrol() -> tuple[str, dict[str, Any]]:
    return ("MemberEnrolled", {"channel": "web", "birthday": None, "referred_by": None})


@pytest.mark.parametrize("broker", BROKERS)
def test_events_become_exact_balances_ledgers_and_dead_letters(tmp_path: Path, chdb_client: Any,
                                                               ch_database: str, broker: str) -> None:
    order = event("o-1", 10, purchase("O1", ("tops", 29_900), ("shoes", 99_900)), member_id="ANNA")
    feed: list[tuple[bytes, dict[str, Any] | bytes]] = [
        (b"webshop", event("e-anna", 0, enrol(), member_id="ANNA")),
        (b"webshop", event("e-bo", 1, enrol(), member_id="BO")),
        (b"webshop", order),
        (b"webshop", order),  # resent by the shop: counted once
        # Another order the next day under the first one's id: a dead letter naming both times, not a repeat.
        (b"webshop", event("o-1", 24 * 60, purchase("O7", ("tops", 10_000)), member_id="ANNA")),
        (b"webshop", b"\x00\x00\x00\x00\x01garbage"),  # malformed: dead letter, the rest goes on
        (b"webshop", event("o-ghost", 12, purchase("G1", ("tops", 10_000)), member_id="GHOST")),
        # Dated 36 years ahead, a mistyped year: a dead letter, or its points would be pending until then.
        (b"webshop", event("o-2062", 36 * 365 * 24 * 60, purchase("O9", ("tops", 10_000)), member_id="ANNA")),
        (b"webshop", event("r-1", 30, ("Return", {"order_id": "O1", "currency": "SEK", "refund_minor": 99_900,
                                                   "lines": [{"line_id": "2", "quantity": 1}]}), member_id="ANNA")),
    ]
    with (engine(tmp_path, chdb_client, ch_database, broker=broker) as e,
          engine_processes(e.settings, e.bootstrap) as running):
        produce(e.bootstrap, e.codec, feed, lambda n: None)
        wait_stored(e.store, 8, e.sink, running, 120, lambda n: None)
        # The bank's transaction is read before the link the app sends a moment later: it waits for it.
        produce(e.bootstrap, e.codec, [(b"bank", event("b-1", 15, purchase("O2", ("tops", 50_000)),
                                                      card_token="tok_bo"))], lambda n: None)
        time.sleep(1)
        produce(e.bootstrap, e.codec, [(b"app", event("c-bo", 2, ("CardLinked", {"card_token": "tok_bo"}),
                                                     member_id="BO"))], lambda n: None)
        wait_stored(e.store, 10, e.sink, running, 120, lambda n: None)

        anna = queries.member_summary(e.store, "ANNA", "Silver")
        assert anna is not None and anna["balance"] == 130 and anna["tier"] == "Silver"
        ledger = queries.member_ledger(e.store, "ANNA")
        # 299 kr of tops and 999 kr of shoes at 1.5x: 29.9 + 149.85 = 179 points, the shoes line's share 149.
        assert [(x["reason"], x["points"], x["balance_after"]) for x in ledger] == [
            ("welcome", 100, 100), ("purchase", 179, 279), ("return", -149, 130)]
        bo = queries.member_summary(e.store, "BO", "Silver")
        assert bo is not None and bo["balance"] == 150  # welcome 100 + 500 kr by linked card
        assert queries.member_summary(e.store, "GHOST", "Silver") is None

        letters = e.store.rows("SELECT stage, reason FROM $db.dead_letters FINAL ORDER BY stage, reason")
        assert [x["stage"] for x in letters] == ["ingest", "ingest", "member", "member"]
        assert letters[0]["reason"].startswith("occurred_at 2062-11-")
        assert "days after the event reached the engine" in letters[0]["reason"]
        assert "undecodable" in letters[1]["reason"]
        assert letters[2]["reason"].startswith("reused event_id o-1: it already named an event that occurred_at "
                                               "2026-11-23T09:10:00.000Z, and this one occurred_at 2026-11-24T09:00")
        assert "unknown member GHOST" in letters[3]["reason"]
        assert e.store.scalar("SELECT count() FROM $db.activity FINAL WHERE event_id = 'o-1'") == 1
