"""What an operator meets running the engine: settings refused with the variable to fix, a data directory or a host
that cannot be used named as such, an alert that fires when the engine is down."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from streams.cli import main
from streams.settings import Settings

DEPLOY = Path(__file__).parents[2] / "deploy"


@pytest.fixture(autouse=True)
def no_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No LOYALTY_* variable and no loyalty.toml but those a test sets."""
    for name in [n for n in os.environ if n.upper().startswith("LOYALTY_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def said(command: list[str], **variables: str) -> tuple[int, str, BaseException | None]:
    result = CliRunner().invoke(main, command, env=variables)
    return result.exit_code, " ".join(result.output.split()), result.exception


@pytest.mark.parametrize(("variables", "named"), [
    ({"LOYALTY_STATUS_PORT": "70000"}, "LOYALTY_STATUS_PORT: '70000' must be 65535 or less"),
    ({"LOYALTY_WORKER_WEB_PORT": "65535", "LOYALTY_WORKERS": "2"},
     "LOYALTY_WORKER_WEB_PORT: '65535' leaves no port for worker 2 of 2"),
])
def test_a_port_past_the_last_one_is_refused_naming_the_variable(variables: dict[str, str], named: str) -> None:
    code, words, exception = said(["run"], **variables)
    assert code == 2 and isinstance(exception, SystemExit), words
    assert named in words


@pytest.mark.parametrize(("variable", "value", "named"), [
    ("LOYALTY_CLICKHOUSE_DSN", "clickhouse.example:8123", "LOYALTY_CLICKHOUSE_DSN: 'clickhouse.example:8123' is not "
     "a ClickHouse URL"),
    ("LOYALTY_CLICKHOUSE_DSN", "clickhouse:8123", "is not a ClickHouse URL"),
    ("LOYALTY_SCHEMA_REGISTRY_URL", "htp://registry:8081", "LOYALTY_SCHEMA_REGISTRY_URL: 'htp://registry:8081' is "
     "not a schema registry's URL"),
    ("LOYALTY_CLICKHOUSE_DATABASE", "loyalty-prod", "LOYALTY_CLICKHOUSE_DATABASE: 'loyalty-prod' is not a plain "
     "ClickHouse database name"),
])
def test_a_clickhouse_or_registry_address_that_cannot_work_is_refused_naming_the_variable(
        variable: str, value: str, named: str) -> None:
    code, words, exception = said(["kpis"], **{variable: value})
    assert code == 2 and isinstance(exception, SystemExit), words
    assert named in words


def test_the_settings_still_take_every_kind_of_address_the_engine_serves() -> None:
    Settings(clickhouse_dsn="http://u:p@clickhouse:8123", schema_registry_url="https://registry:8081")
    Settings(clickhouse_dsn="chdb:///var/lib/loyalty/clickhouse", schema_registry_url="mock://tests")
    Settings(clickhouse_dsn="embedded", schema_registry_url="embedded://", clickhouse_database="loyalty_2")


def test_an_https_clickhouse_dsn_is_spoken_to_over_https(monkeypatch: pytest.MonkeyPatch) -> None:
    """clickhouse-connect reads no scheme from a DSN: https://host would be plain http on 8123, password and all."""
    import clickhouse_connect
    from clickhouse_connect import driver

    from sinks.clickhouse import connect

    asked: dict[str, Any] = {}
    monkeypatch.setattr(clickhouse_connect, "get_client", lambda **kwargs: asked.update(kwargs))
    store = connect("https://reader:secret@clickhouse.example", "loyalty", later=True)
    store._open_client()  # type: ignore[misc]

    interface = asked.get("interface")
    _host, _user, _password, port, _database, spoken = driver._parse_connection_params(
        None, None, "", None, None, interface, False, asked["dsn"], {})
    assert (spoken, port) == ("https", 8443)


def test_a_data_directory_that_cannot_be_made_is_named_with_the_variable_not_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    code, words, exception = said(["run"], LOYALTY_DATA_DIR=str(tmp_path / "a-file" / "data"),
                                  LOYALTY_STATUS_PORT="0")
    assert code == 1 and isinstance(exception, SystemExit), words
    assert f"cannot use {tmp_path / 'a-file' / 'data'} as the data directory (Not a directory)" in words
    assert "set LOYALTY_DATA_DIR" in words


def test_a_status_host_that_is_not_this_machines_is_named_not_called_a_taken_port(tmp_path: Path) -> None:
    from streams.processes import PortInUse, check_ports_free

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = Settings(data_dir=tmp_path, status_host="192.0.2.1", status_port=port, workers=1,
                        worker_web_port=port + 1)
    with pytest.raises(PortInUse) as refused:
        check_ports_free(settings)
    assert "is in use" not in str(refused.value)
    assert "LOYALTY_STATUS_HOST" in str(refused.value)


def test_the_engine_down_alert_fires_once_the_engine_answers_no_scrape() -> None:
    """A part that stops stops the engine within seconds, /metrics with it: `loyalty_up == 0` alone never lasts the
    rule's minute, so the rule must also fire on the failed scrape."""
    rules = yaml.safe_load((DEPLOY / "alerts.yml").read_text())["groups"][0]["rules"]
    [down] = [rule for rule in rules if rule["alert"] == "LoyaltyEngineDown"]
    assert "up{" in down["expr"] or "absent(" in down["expr"], down["expr"]
