"""The README's first command, `loyalty demo`, as a user runs it: a fresh engine on the embedded broker and
ClickHouse, a synthetic day fed and stored, a summary answered by ClickHouse, everything stopped, exit 0; in a folder
of its own in the data directory, leaving the rest of it alone."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from streams.demo_feed import synthetic_day
from streams.embedded import free_ports


def test_the_demo_runs_a_day_end_to_end_prints_its_summary_and_exits_cleanly(tmp_path: Path) -> None:
    members, events = 300, 3_000
    data = tmp_path / "data"
    data.mkdir()
    (data / "notes.txt").write_text("mine")
    env = {**os.environ, "LOYALTY_DATA_DIR": str(data), "LOYALTY_WORKER_WEB_PORT": str(free_ports(2)),
           "COLUMNS": "250"}
    done = subprocess.run([sys.executable, "-m", "streams.cli", "demo", "--members", str(members),
                           "--events", str(events), "--timeout", "240"],
                          env=env, capture_output=True, text=True, timeout=420, cwd=tmp_path)

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    feed = synthetic_day(members, events)
    figures = dict(re.findall(r"│ ([^│]+?) +│ ([^│]+?) +│", done.stdout))
    fed = len(feed.base) + len(feed.day)
    assert figures["events fed"] == f"{fed:,} ({feed.duplicates:,} of them resent duplicates)"
    assert figures["members"] == f"{members:,}"
    # Every broken input of the day is a dead letter: undecodable bytes, card numbers, members nobody enrolled,
    # and the rules' refusals (redemptions without the points, say): at least the first three kinds, five each.
    assert int(figures["dead letters (not applied since)"].replace(",", "")) >= 15
    assert figures["triggers sent"].startswith(tuple("123456789")) and "welcome" in figures["triggers sent"]
    assert "KPI: average order value" in figures and "SEK" in figures["KPI: average order value"]
    assert "saved in" in done.stdout + done.stderr  # the broker's topics kept for the next start, then stopped
    assert f"The demo's data is in {data / 'demo'}" in " ".join(done.stderr.split())
    assert (data / "notes.txt").read_text() == "mine"
    assert (data / "demo" / "clickhouse").is_dir()
