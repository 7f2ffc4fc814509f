"""`loyalty feed` through the real broker, Faust worker and chDB: the example feed files end as exact ledgers."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from sinks import queries
from streams.cli import main
from streams.clock_ticks import enrolled_members, tick_events
from streams.demo import produce, wait_stored
from streams.processes import engine_processes
from streams.topics import ENGINE_EVENTS

from .harness import engine
from .test_example_programs import EXAMPLES, ledger_of

FEEDS = EXAMPLES / "feeds"


def test_the_example_feeds_sent_with_loyalty_feed_end_as_exact_ledgers(tmp_path: Path, chdb_client: Any,
                                                                       ch_database: str) -> None:
    program = (EXAMPLES / "fashion.yaml").read_text()
    with (engine(tmp_path, chdb_client, ch_database, program=program) as e,
          engine_processes(e.settings, e.bootstrap) as running):
        files = [str(FEEDS / "week.jsonl"), str(FEEDS / "store-sales.csv")]
        result = CliRunner().invoke(main, ["feed", *files], env={"LOYALTY_BROKER": e.bootstrap})
        assert result.exit_code == 0, result.output
        assert result.output.endswith(f"sent 11 events (CardLinked 1, MemberEnrolled 2, Purchase 4, Redemption 1, "
                                      f"Return 1, SocialShare 1, SurveyAnswered 1) to loyalty.events.v1 at "
                                      f"{e.bootstrap}\n")
        wait_stored(e.store, 11, e.sink, running, 120, lambda n: None)

        anna = [(x["reason"], x["points"]) for x in ledger_of(e.store, "anna", 8)]  # in event time, as a statement
        assert anna == [
            ("welcome", 100),
            ("purchase", 129),  # the dress; delivery earns nothing
            ("purchase", 45),  # the bank's card transaction, matched to anna by its card token
            ("social", 20),
            ("return", -129),  # the dress went back
            ("redemption", -100),  # free shipping
            ("referral", 200),  # ben, whom she referred, made a first purchase (dated as his purchase)
            ("purchase", 119),  # tops paid with the store card (x2); the gift card earns nothing
        ]
        ben = [(x["reason"], x["points"]) for x in ledger_of(e.store, "ben", 3)]
        assert ben == [("welcome", 100), ("purchase", 89), ("referral", 100)]  # shoes x1.5
        assert e.store.scalar("SELECT count() FROM $db.dead_letters") == 0
        nps = queries.net_promoter_score(e.store, datetime(2026, 11, 30, tzinfo=UTC))
        assert (nps["respondents"], nps["promoters"], nps["nps_bp"]) == (1, 1, 10_000)  # anna's 9 in the app

        # The week sent again, then one new share: once the share is applied, so are the resent events before it.
        share = tmp_path / "share.jsonl"
        share.write_text('{"type": "SocialShare", "event_id": "app-share-78", "occurred_at": "2026-11-25T09:00:00Z", '
                         '"source": "app", "member_id": "anna", "platform": "tiktok", "action": "follow", '
                         '"post_id": "nordic-style"}\n')
        again = CliRunner().invoke(main, ["feed", files[0], str(share)], env={"LOYALTY_BROKER": e.bootstrap})
        assert again.exit_code == 0, again.output
        wait_stored(e.store, 12, e.sink, running, 120, lambda n: None)
        assert [(x["reason"], x["points"]) for x in ledger_of(e.store, "anna", 9)] == [*anna, ("social", 30)]

        # The offers the fashion program sends: a dress without accessories now, and after a quiet winter, a win-back.
        produce(e.bootstrap, e.codec, tick_events(enrolled_members(e.store), datetime(2027, 3, 1, 3, tzinfo=UTC)),
                lambda n: None, ENGINE_EVENTS)
        wait_stored(e.store, 14, e.sink, running, 120, lambda n: None)
        triggers = e.store.rows("SELECT member_id, toString(kind) AS kind, attributes FROM $db.triggers FINAL "
                                "WHERE kind IN ('cross_sell', 'win_back') ORDER BY member_id, kind")
        assert [(t["member_id"], t["kind"], t["attributes"].get("suggest", t["attributes"].get("days")))
                for t in triggers] == [("anna", "cross_sell", "accessories"), ("anna", "win_back", "96"),
                                       ("ben", "win_back", "96")]  # ben bought socks with his shoes
