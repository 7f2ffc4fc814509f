"""Refused events sent again once their cause is fixed (`loyalty deadletters --resend`): applied, and only once.

Once applied, they leave the list (`--all` shows them) and are not sent again unless asked.

Through the real broker, worker and chDB: a purchase of a member not enrolled yet and
a card transaction of a card not linked yet are refused; the member enrols, the card
is linked, and the two are sent again from their dead letters.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from sinks import queries
from streams.cli import main
from streams.demo import produce, wait_stored
from streams.processes import engine_processes

from .harness import engine, workers_counts
from .test_purchase_to_clickhouse import enrol, event, purchase


def test_refused_events_sent_again_once_fixed_are_applied_once(tmp_path: Path, chdb_client: Any, chdb_path: Path,
                                                                ch_database: str) -> None:
    refused = [(b"webshop", event("g-1", 10, purchase("G1", ("tops", 10_000)), member_id="GHOST")),
               (b"bank", event("b-1", 15, purchase("B1", ("tops", 50_000)), card_token="tok_bo")),
               (b"webshop", b"\x00\x00\x00\x00\x01garbage")]
    fixes = [(b"app", event("e-ghost", 20, enrol(), member_id="GHOST")),
             (b"app", event("e-bo", 21, enrol(), member_id="BO")),
             (b"app", event("c-bo", 22, ("CardLinked", {"card_token": "tok_bo"}), member_id="BO"))]
    with (engine(tmp_path, chdb_client, ch_database) as e,
          engine_processes(e.settings, e.bootstrap) as running):
        env = {"LOYALTY_BROKER": e.bootstrap, "LOYALTY_CLICKHOUSE_DSN": f"chdb://{chdb_path}",
               "LOYALTY_CLICKHOUSE_DATABASE": ch_database, "LOYALTY_PARTITIONS": str(e.settings.partitions)}
        produce(e.bootstrap, e.codec, refused, lambda n: None)
        wait_stored(e.store, 3, e.sink, running, 120, lambda n: None)
        produce(e.bootstrap, e.codec, fixes, lambda n: None)
        wait_stored(e.store, 6, e.sink, running, 120, lambda n: None)

        resent = CliRunner().invoke(main, ["deadletters", "--reason", "unknown", "--resend"], env=env)
        assert resent.exit_code == 0, resent.output
        assert "sent again: 2 to loyalty.events.v1; 0 not sent" in resent.output
        wait_stored(e.store, 8, e.sink, running, 120, lambda n: None)
        ghost = queries.member_summary(e.store, "GHOST", "Silver")
        bo = queries.member_summary(e.store, "BO", "Silver")
        assert ghost is not None and ghost["balance"] == 110  # welcome 100 + 100 kr
        assert bo is not None and bo["balance"] == 150  # welcome 100 + 500 kr by the card linked since

        # Applied now, they are no longer listed, nor sent again unless asked for.
        left = CliRunner().invoke(main, ["deadletters", "--json"], env=env)
        assert [letter["event_id"] for letter in json.loads(left.output)] == [None], left.output  # the garbage
        nothing = CliRunner().invoke(main, ["deadletters", "--reason", "unknown", "--resend"], env=env)
        assert nothing.exit_code == 1 and "applied since are left out: --all includes them" in nothing.output
        listed = CliRunner().invoke(main, ["deadletters", "--all", "--json"], env=env)
        assert sorted((x["event_id"] or "", x["applied"]) for x in json.loads(listed.output)) == [
            ("", False), ("b-1", True), ("g-1", True)]
        again = CliRunner().invoke(main, ["deadletters", "--reason", "unknown", "--resend", "--all"], env=env)
        assert again.exit_code == 0 and "sent again: 2 to loyalty.events.v1" in again.output, again.output
        deadline = time.monotonic() + 60
        while sum(counts["duplicates"] for counts in workers_counts(e.settings)) < 2:
            assert time.monotonic() < deadline, "the events sent again did not reach the worker"
            time.sleep(0.2)
        assert queries.member_summary(e.store, "GHOST", "Silver")["balance"] == 110  # type: ignore[index]
        assert queries.member_summary(e.store, "BO", "Silver")["balance"] == 150  # type: ignore[index]

        garbage = CliRunner().invoke(main, ["deadletters", "--stage", "sink", "--resend"], env=env)
        assert garbage.exit_code == 1 and "no dead letters match: nothing sent" in garbage.output
