"""A member erased through the real broker, worker and chDB: closed, forgotten in ClickHouse, cards unlinked."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sinks import queries
from sinks.tables import MEMBER_TABLES
from streams.demo import produce
from streams.sink_loop import SWEEP_AGAIN_SECONDS
from streams.topics import ERASURES

from .test_example_programs import EXAMPLES, Feed, bought, fed, send
from .test_purchase_to_clickhouse import enrol, event


def rows_of(store: Any, member_id: str) -> dict[str, int]:
    return {table: store.scalar(f"SELECT count() FROM $db.{table} FINAL WHERE member_id = {{m:String}}",
                                {"m": member_id}) for table in MEMBER_TABLES}


def test_an_erased_member_is_closed_forgotten_in_clickhouse_and_their_card_no_longer_leads_to_them(
        tmp_path: Path, chdb_client: Any, ch_database: str) -> None:
    card = ("CardLinked", {"card_token": "tok_anna"})
    members: Feed = [
        (b"app", event("anna-joins", 0, enrol(), member_id="ANNA")),
        (b"app", event("anna-card", 1, card, member_id="ANNA")),
        (b"app", event("bo-joins", 0, enrol(), member_id="BO")),
    ]
    feed: Feed = [
        (b"pos", event("anna-buys", 2, bought("P1", "tops", 50_000), member_id="ANNA")),
        (b"pos", event("bo-buys", 3, bought("P2", "tops", 20_000), member_id="BO")),
    ]
    program = (EXAMPLES / "fashion.yaml").read_text()
    with fed(tmp_path, chdb_client, ch_database, program, feed, members=members) as (e, running):
        assert queries.member_summary(e.store, "ANNA", "Silver")["balance"] == 150
        erase = ("MemberErased", {"reason": "erasure request 118"})
        produce(e.bootstrap, e.codec, [(b"crm", event("anna-erased", 10, erase, member_id="ANNA"))], lambda n: None)

        deadline = time.monotonic() + 60  # the sink forgets her once it has stored the erasure
        while not (e.store.scalar("SELECT count() FROM $db.erasures") and not any(rows_of(e.store, "ANNA").values())):
            assert time.monotonic() < deadline, rows_of(e.store, "ANNA")
            time.sleep(0.2)
        assert [r["member_id"] for r in e.store.rows("SELECT member_id FROM $db.erasures FINAL")] == ["ANNA"]
        assert rows_of(e.store, "BO")["ledger"] == 2  # welcome and purchase: nobody else is touched
        time.sleep(SWEEP_AGAIN_SECONDS + 1)  # past the sink's second sweep: what comes now waits for the next

        later = [(b"pos", event("anna-again", 11, bought("P3", "tops", 10_000), member_id="ANNA")),
                 (b"bank", event("anna-card-buy", 12, bought("N1", "tops", 10_000), card_token="tok_anna"))]
        send(e, running, later, 2 + len(later))  # Bo's two events, and the two refused ones
        letters = e.store.rows("SELECT event_id, member_id, reason FROM $db.dead_letters FINAL ORDER BY event_id")
        assert [(x["event_id"], x["member_id"], x["reason"].split(":")[0]) for x in letters] == [
            ("anna-again", "ANNA", "member ANNA was erased on 2026-11-23"),
            ("anna-card-buy", None, "unknown card_token in Purchase anna-card-buy")]
        e.store.forget_erased()  # what the sink's next sweep does: her refused event goes too
        assert rows_of(e.store, "ANNA") == dict.fromkeys(MEMBER_TABLES, 0)
        assert [x["event_id"] for x in e.store.rows("SELECT event_id FROM $db.dead_letters FINAL")] == [
            "anna-card-buy"]  # only a token: nothing there leads to her
        notices = e.store.rows("SELECT event_id FROM $db.erasures FINAL")  # what downstream systems read on the topic
        assert [x["event_id"] for x in notices] == ["anna-erased"] and ERASURES == "loyalty.erasures.v1"
