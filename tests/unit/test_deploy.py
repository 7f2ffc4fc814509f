"""The deployment files in deploy/ say what the engine reads: the settings load, the unit runs `loyalty run`."""

from __future__ import annotations

import configparser
import json
import os
from pathlib import Path

import pytest
import yaml

from streams.settings import Settings

DEPLOY = Path(__file__).parents[2] / "deploy"


def test_the_production_settings_load_and_point_away_from_the_embedded_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("LOYALTY_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("LOYALTY_CONFIG_FILE", str(DEPLOY / "loyalty.toml"))

    settings = Settings()

    assert not settings.embedded_broker and not settings.embedded_clickhouse
    assert settings.schema_registry_url.startswith("http://")
    assert (settings.status_host, settings.status_port, settings.workers) == ("0.0.0.0", 6065, 4)
    assert settings.data_dir == Path("/var/lib/loyalty")


def test_the_systemd_unit_runs_the_engine_with_those_settings_and_stops_it_gently() -> None:
    unit = configparser.ConfigParser(strict=False)
    unit.read(DEPLOY / "loyalty.service")
    service = unit["Service"]

    assert service["ExecStart"] == "/opt/loyalty/bin/loyalty run"
    assert service["Environment"] == "LOYALTY_CONFIG_FILE=/etc/loyalty/loyalty.toml"
    assert service["KillSignal"] == "SIGTERM" and service["Restart"] == "on-failure"
    assert service["StateDirectory"] == "loyalty"  # /var/lib/loyalty, the data_dir of the settings


def test_grafana_provisions_the_clickhouse_plugin_and_the_dashboard_loyalty_dashboard_writes(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from sinks.dashboard import DATASOURCE
    from streams.cli import main

    [source] = yaml.safe_load((DEPLOY / "grafana" / "datasource.yaml").read_text())["datasources"]
    assert source["type"] == DATASOURCE["type"]
    assert source["jsonData"]["defaultDatabase"] == "loyalty"
    assert source["secureJsonData"]["password"].startswith("$")  # a secret from the environment
    [provider] = yaml.safe_load((DEPLOY / "grafana" / "dashboards.yaml").read_text())["providers"]
    written = Path(provider["options"]["path"]) / "loyalty.json"
    assert f"loyalty dashboard --out {written}" in (DEPLOY / "grafana" / "dashboards.yaml").read_text()

    out = tmp_path / "loyalty.json"
    result = CliRunner().invoke(main, ["dashboard", "--out", str(out)], env={"LOYALTY_CLICKHOUSE_DATABASE": "loyalty"})
    assert result.exit_code == 0, result.output
    board = json.loads(out.read_text())
    assert board["uid"] == "loyalty-loyalty" and len(board["panels"]) >= 10
    assert all("`loyalty`." in panel["targets"][0]["rawSql"] for panel in board["panels"])

    nowhere = CliRunner().invoke(main, ["dashboard", "--out", str(tmp_path / "no-such-folder" / "x.json")])
    assert nowhere.exit_code == 1 and "Traceback" not in nowhere.output
    assert f"cannot write {tmp_path / 'no-such-folder' / 'x.json'}: No such file or directory" in " ".join(
        nowhere.output.split())
