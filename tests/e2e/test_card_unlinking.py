"""Cards unlinked and passed on through the real broker, worker and chDB: a transaction earns for the member
whose card it was when it was made, however late the bank sends it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sinks import queries

from .test_example_programs import EXAMPLES, Feed, bought, fed, send
from .test_purchase_to_clickhouse import enrol, event


def test_a_card_earns_for_its_member_until_they_unlink_it_and_for_the_next_once_they_link_it(
        tmp_path: Path, chdb_client: Any, ch_database: str) -> None:
    card = {"card_token": "tok_shared"}
    members: Feed = [
        (b"app", event("anna-joins", 0, enrol(), member_id="ANNA")),
        (b"app", event("bo-joins", 0, enrol(), member_id="BO")),
        (b"app", event("anna-links", 1, ("CardLinked", card), member_id="ANNA")),
    ]
    feed: Feed = [
        (b"bank", event("bank-1", 2, bought("N1", "tops", 10_000), card_token="tok_shared")),
        (b"app", event("anna-unlinks", 10, ("CardUnlinked", card), member_id="ANNA")),
    ]
    program = (EXAMPLES / "fashion.yaml").read_text()
    with fed(tmp_path, chdb_client, ch_database, program, feed, members=members) as (e, running):
        sent = len(members) + len(feed)
        send(e, running, [(b"app", event("bo-links", 20, ("CardLinked", card), member_id="BO"))], sent + 1)
        # The bank's feed is a day late: bought while the card was Anna's, while it was nobody's, and Bo's.
        late: Feed = [(b"bank", event("bank-2", 5, bought("N2", "tops", 20_000), card_token="tok_shared")),
                      (b"bank", event("bank-3", 12, bought("N3", "tops", 40_000), card_token="tok_shared")),
                      (b"bank", event("bank-4", 25, bought("N4", "tops", 30_000), card_token="tok_shared"))]
        send(e, running, late, sent + 1 + len(late))

        assert [(x["event_id"], x["reason"], x["points"]) for x in queries.member_ledger(e.store, "ANNA")] == [
            ("anna-joins", "welcome", 100), ("bank-1", "purchase", 10), ("bank-2", "purchase", 20)]
        assert [(x["event_id"], x["reason"], x["points"]) for x in queries.member_ledger(e.store, "BO")] == [
            ("bo-joins", "welcome", 100), ("bank-4", "purchase", 30)]
        letters = e.store.rows("SELECT event_id, member_id, reason FROM $db.dead_letters FINAL")
        assert [(x["event_id"], x["member_id"]) for x in letters] == [("bank-3", None)]
        assert letters[0]["reason"].startswith(
            "card unlinked before Purchase bank-3: its member unlinked the card at 2026-11-23 09:10 UTC and the next "
            "linked it at 2026-11-23 09:20 UTC; the transaction was made at 2026-11-23 09:12 UTC")
        kinds = e.store.rows("SELECT event_type FROM $db.activity FINAL WHERE member_id = 'ANNA' ORDER BY occurred_at")
        assert [x["event_type"] for x in kinds] == ["enrolled", "card_linked", "purchase", "purchase",
                                                    "card_unlinked"]
