"""The README's two terminals: `loyalty run` in one; `loyalty feed`, `loyalty member` and `loyalty kpis` in another.

Everything runs as the commands a user types, each in a process of its own, on the
embedded broker and embedded ClickHouse: the running engine holds chDB, so it answers
`member` and `kpis` itself, and once it has stopped the commands read chDB directly.
Started again, the engine goes on with the members it had; killed with its broker,
it refuses to go on without them. A second engine on the same data directory, or on its ports, is refused.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from streams.embedded import free_ports
from streams.processes import BROKER_ADDRESS_FILE
from streams.reports import SOCKET

from .test_example_programs import EXAMPLES

ANNA = [("welcome", 100), ("purchase", 129), ("purchase", 45), ("social", 20), ("return", -129),
        ("redemption", -100)]


def loyalty(env: dict[str, str], *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "streams.cli", *arguments], env=env, capture_output=True,
                          text=True, timeout=180)


def member(env: dict[str, str], member_id: str, entries: int, seconds: float = 90) -> dict[str, Any]:
    """``loyalty member --json`` once the member's ledger has ``entries`` rows."""
    deadline = time.monotonic() + seconds
    while True:
        asked = loyalty(env, "member", member_id, "--json")
        found = json.loads(asked.stdout) if asked.returncode == 0 else None
        if (found is not None and len(found["ledger"]) >= entries) or time.monotonic() > deadline:
            assert found is not None, asked.stderr
            return found
        time.sleep(0.5)


CLEO_SALE = {"type": "Purchase", "event_id": "pos-7-5601", "occurred_at": "2026-11-24T16:10:00+01:00",
             "source": "pos:store-07", "member_id": "cleo", "order_id": "P5601", "channel": "pos",
             "store_id": "store-07", "currency": "SEK", "total_minor": 50000, "payment_method": "card",
             "lines": [{"line_id": "1", "sku": "TOP-0220", "category": "tops", "quantity": 1, "amount_minor": 50000}]}
CLEO_ENROLS = {"type": "MemberEnrolled", "event_id": "app-enrol-cleo", "occurred_at": "2026-11-24T16:08:00+01:00",
               "source": "app", "member_id": "cleo", "channel": "app"}
CLEO_CARD_BUY = {"type": "Purchase", "event_id": "bank-tx-91002", "occurred_at": "2026-11-24T17:45:00Z",
                 "source": "bank:nordea", "card_token": "tok_c1e0", "order_id": "N91002", "channel": "card",
                 "store_id": "store-03", "currency": "SEK", "total_minor": 30000,
                 "lines": [{"line_id": "1", "sku": "CARD", "category": "card", "quantity": 1, "amount_minor": 30000}]}
CLEO_LINKS = {"type": "CardLinked", "event_id": "app-card-cleo", "occurred_at": "2026-11-24T17:30:00Z",
              "source": "app", "member_id": "cleo", "card_token": "tok_c1e0"}


def feed_file(path: Path, *events: dict[str, Any]) -> Path:
    path.write_text("".join(json.dumps(event) + "\n" for event in events))
    return path


def letters_for(env: dict[str, str], reason: str, count: int = 1, seconds: float = 90) -> list[dict[str, Any]]:
    """``loyalty deadletters --json`` for ``reason``, once it lists ``count`` letters."""
    deadline = time.monotonic() + seconds
    while True:
        asked = loyalty(env, "deadletters", "--reason", reason, "--json")
        assert asked.returncode == 0, asked.stderr
        letters = json.loads(asked.stdout)
        if len(letters) == count or time.monotonic() > deadline:
            return letters
        time.sleep(0.5)


def started(env: dict[str, str], *options: str) -> subprocess.Popen[str]:
    """``loyalty run``, once it answers ``loyalty feed`` and ``loyalty member``."""
    data = Path(env["LOYALTY_DATA_DIR"])
    begun = time.time() - 1  # a killed engine leaves its files behind: wait for this one's
    run = subprocess.Popen([sys.executable, "-m", "streams.cli", "run", *options], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while not all(made_since(data / name, begun) for name in (BROKER_ADDRESS_FILE, SOCKET)):
        assert run.poll() is None, run.communicate()[0]
        assert time.monotonic() < deadline, "`loyalty run` made no broker address file and socket in 120 s"
        time.sleep(0.2)
    return run


def made_since(path: Path, moment: float) -> bool:
    try:
        return path.stat().st_mtime >= moment
    except FileNotFoundError:
        return False


def stopped(run: subprocess.Popen[str]) -> str:
    """Stop ``loyalty run`` as a service manager does; what it said."""
    run.send_signal(signal.SIGTERM)
    said = run.communicate(timeout=60)[0]
    assert run.returncode == 0, said
    return " ".join(said.split())


def test_a_running_engine_answers_member_and_kpis_and_they_read_clickhouse_once_it_stops(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {**os.environ, "LOYALTY_DATA_DIR": str(data), "LOYALTY_PROGRAM_FILE": str(EXAMPLES / "fashion.yaml"),
           "LOYALTY_WORKERS": "1", "LOYALTY_STATUS_PORT": str(free_ports(1)),
           "LOYALTY_WORKER_WEB_PORT": str(free_ports(1)), "LOYALTY_TICK_HOUR": "0", "COLUMNS": "200"}
    run = started(env)
    try:
        assert (data / SOCKET).parent.stat().st_mode & 0o777 == 0o700  # only the engine's user gets in

        sent = loyalty(env, "feed", str(EXAMPLES / "feeds" / "week.jsonl"))
        assert sent.returncode == 0, sent.stderr
        live = member(env, "anna", len(ANNA))
        assert [(x["reason"], x["points"]) for x in live["ledger"]] == ANNA
        assert live["member"]["balance"] == 65

        kpis = loyalty(env, "kpis", "--json")
        assert kpis.returncode == 0, kpis.stderr
        figures = json.loads(kpis.stdout)
        assert (figures["net_promoter_score"]["respondents"], figures["net_promoter_score"]["nps_bp"]) == (1, 10_000)
        # anna returned the 1,299 SEK dress of order W1001: dresses net nothing
        assert [(row["category"], row["spend_minor"]) for row in figures["top_categories"]] == [
            ("card", 45_000), ("delivery", 4_900), ("dresses", 0)]
        by_tier = loyalty(env, "kpis", "--by", "tier")
        assert by_tier.returncode == 0 and "Silver" in by_tier.stdout, by_tier.stderr

        # One engine a data directory: a second one, even told to start over, is refused and deletes nothing
        second = loyalty(env, "run", "--fresh")
        assert second.returncode == 1, second.stderr
        assert (f"an engine is already running with data directory {data} (pid {run.pid}): stop it first "
                f"(Ctrl-C, or kill -TERM {run.pid})") in " ".join(second.stderr.split())
        # and one on another data directory is refused too while its ports are this one's, naming the setting
        elsewhere = loyalty({**env, "LOYALTY_DATA_DIR": str(tmp_path / "elsewhere"),
                             "LOYALTY_STATUS_PORT": str(free_ports(1))}, "run")
        assert elsewhere.returncode == 1, elsewhere.stderr
        assert (f"port {env['LOYALTY_WORKER_WEB_PORT']} (LOYALTY_WORKER_WEB_PORT) is in use on 127.0.0.1: another "
                "engine? set LOYALTY_WORKER_WEB_PORT to a free port") in " ".join(elsewhere.stderr.split())
    finally:
        said = stopped(run)
    assert "`loyalty member`, `kpis` and `deadletters` answered from here" in said
    assert "messages are saved in" in said
    assert "sent to 0 members" in said  # today's clock ticks, at the first start
    assert not (data / SOCKET).exists()

    assert member(env, "anna", len(ANNA)) == live  # now from chDB itself
    unknown = loyalty(env, "member", "nobody")
    assert unknown.returncode == 1 and "no member 'nobody'" in unknown.stderr

    # Started again, the engine still knows its members: Ben's first purchase in a shop pays his referral
    run = started({**env, "LOYALTY_CARD_WAIT_SECONDS": "1"})
    try:
        sent = loyalty(env, "feed", str(EXAMPLES / "feeds" / "store-sales.csv"))
        assert sent.returncode == 0, sent.stderr
        ben = member(env, "ben", 3)
        assert [(x["reason"], x["points"]) for x in ben["ledger"]] == [("welcome", 100), ("purchase", 89),
                                                                      ("referral", 100)]
        anna = member(env, "anna", len(ANNA) + 2)
        assert [x["reason"] for x in anna["ledger"][len(ANNA):]] == ["referral", "purchase"]  # Ben bought first
        # The first run wrote every state as it stopped, so none of its events was applied again: only the two
        # purchases and Anna's referral reward (today's clock ticks went out at the first start, to no one yet)
        progress = f"http://127.0.0.1:{env['LOYALTY_WORKER_WEB_PORT']}/progress/"
        with urllib.request.urlopen(progress, timeout=10) as response:
            assert json.load(response)["applied"] == 3

        # A till's sale that comes before the app's enrolment is refused, then applied by itself once Cleo enrols
        assert loyalty(env, "feed", str(feed_file(tmp_path / "sale.jsonl", CLEO_SALE))).returncode == 0
        [letter] = letters_for(env, "unknown member cleo")
        assert letter["event_id"] == CLEO_SALE["event_id"] and "sends this event again by itself" in letter["reason"]
        not_yet = loyalty(env, "member", "cleo")
        assert not_yet.returncode == 1 and "1 event for it waits for its enrolment" in not_yet.stderr
        assert loyalty(env, "feed", str(feed_file(tmp_path / "enrol.jsonl", CLEO_ENROLS))).returncode == 0
        cleo = member(env, "cleo", 2)
        assert [(x["reason"], x["points"], x["event_id"]) for x in cleo["ledger"]] == [
            ("welcome", 100, CLEO_ENROLS["event_id"]), ("purchase", 50, CLEO_SALE["event_id"])]
        assert letters_for(env, "unknown member cleo", count=0) == []  # applied since: no longer a dead letter to fix

        # A bank's card transaction whose CardLinked comes later than ingest waits for it: the same, once it comes
        assert loyalty(env, "feed", str(feed_file(tmp_path / "bank.jsonl", CLEO_CARD_BUY))).returncode == 0
        [letter] = letters_for(env, "unknown card_token")
        assert letter["event_id"] == CLEO_CARD_BUY["event_id"]
        assert "sends this event again by itself" in letter["reason"]
        assert loyalty(env, "feed", str(feed_file(tmp_path / "link.jsonl", CLEO_LINKS))).returncode == 0
        cleo = member(env, "cleo", 3)
        assert [(x["reason"], x["points"], x["event_id"]) for x in cleo["ledger"][2:]] == [
            ("purchase", 30, CLEO_CARD_BUY["event_id"])]
        assert letters_for(env, "unknown card_token", count=0) == []
    finally:
        said = stopped(run)
    assert "messages from the last run are back" in said
    assert "1 event that came before the member's enrolment sent again, now that it is applied" in said
    assert "1 event that came before the card's link sent again, now that it is applied" in said

    # Killed together with its broker, it leaves nothing to go on from: the next start says so, and --fresh starts over
    run = started(env)
    run.kill()
    run.communicate(timeout=60)
    refused = loyalty(env, "run")
    assert refused.returncode == 1
    assert "holds members' state from an earlier run" in refused.stderr and "--fresh" in refused.stderr
    run = started(env, "--fresh")
    try:
        assert loyalty(env, "member", "anna").returncode == 1  # nobody yet
    finally:
        stopped(run)


def test_an_engine_started_while_its_clickhouse_server_does_not_answer_applies_events_and_says_so(
        tmp_path: Path) -> None:
    status, progress = (f"http://127.0.0.1:{port}" for port in (free_ports(1), free_ports(1)))
    env = {**os.environ, "LOYALTY_DATA_DIR": str(tmp_path / "data"), "LOYALTY_WORKERS": "1",
           "LOYALTY_CLICKHOUSE_DSN": f"http://loyalty:secret@127.0.0.1:{free_ports(1)}",  # nothing listens there
           "LOYALTY_PROGRAM_FILE": str(EXAMPLES / "fashion.yaml"), "LOYALTY_STATUS_PORT": status.rpartition(":")[2],
           "LOYALTY_WORKER_WEB_PORT": progress.rpartition(":")[2], "COLUMNS": "200"}
    run = subprocess.Popen([sys.executable, "-m", "streams.cli", "run"], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    try:
        health = answer(run, f"{status}/health", lambda found: found["status"] == "degraded")
        assert "Connection refused" in health["sink"]
        sent = loyalty(env, "feed", str(EXAMPLES / "feeds" / "week.jsonl"))
        assert sent.returncode == 0, sent.stderr
        answer(run, f"{progress}/progress/", lambda found: found["applied"] == 9)  # the feed's events: points go on
    finally:
        said = stopped(run)
    port = env["LOYALTY_CLICKHOUSE_DSN"].rpartition(":")[2]
    assert f"ClickHouse at http://127.0.0.1:{port} does not answer yet" in said and "secret" not in said


def answer(run: subprocess.Popen[str], url: str, good: Callable[[Any], bool], seconds: float = 120) -> Any:
    """The JSON at ``url`` once ``good`` says it is; ``run`` must keep running meanwhile."""
    deadline, found = time.monotonic() + seconds, None
    while True:
        assert run.poll() is None, run.communicate()[0]
        assert time.monotonic() < deadline, f"{url} said {found}"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                found = json.load(response)
        except (OSError, ValueError):
            found = None
        if found is not None and good(found):
            return found
        time.sleep(0.5)
