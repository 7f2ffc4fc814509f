"""A wrong setting is named as the user wrote it: the variable, or the config file's key and line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from streams.cli import main


@pytest.fixture(autouse=True)
def no_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No LOYALTY_* variable and no loyalty.toml but those a test sets."""
    for name in [n for n in os.environ if n.upper().startswith("LOYALTY_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def refusal(*variables: tuple[str, str]) -> str:
    """What ``loyalty kpis`` says with ``variables`` set; it must fail as a usage error."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in variables:
            patch.setenv(name, value)
        refused = CliRunner().invoke(main, ["kpis"])
    assert refused.exit_code == 2, refused.output
    return " ".join(refused.output.split())


def test_a_config_file_named_but_missing_is_an_error_not_the_defaults(tmp_path: Path) -> None:
    assert (f"Error: LOYALTY_CONFIG_FILE names {tmp_path / 'loyalty-prod.toml'}, which does not exist"
            in refusal(("LOYALTY_CONFIG_FILE", str(tmp_path / "loyalty-prod.toml"))))
    assert (f"Error: LOYALTY_CONFIG_FILE names {tmp_path}, which is not a file (a TOML file is wanted)"
            in refusal(("LOYALTY_CONFIG_FILE", str(tmp_path))))


def test_a_wrong_value_in_a_variable_names_the_variable_and_says_what_is_wanted() -> None:
    assert "Error: LOYALTY_PARTITIONS: 'abc' is not a whole number" in refusal(("LOYALTY_PARTITIONS", "abc"))
    both = refusal(("LOYALTY_WORKERS", "0"), ("LOYALTY_LOG_LEVEL", "loud"))
    assert "LOYALTY_WORKERS: '0' must be more than 0" in both
    assert "LOYALTY_LOG_LEVEL: 'loud' must be one of 'crit', 'error', 'warn', 'info' or 'debug'" in both
    assert "pydantic" not in both


def test_a_variable_that_nearly_spells_a_setting_is_named_with_the_setting_meant_not_ignored() -> None:
    said = refusal(("LOYALTY_CLICKHOUSE_DSM", "http://ch:8123"), ("LOYALTY_TICK_HOUR_UTC", "4"))
    assert "LOYALTY_CLICKHOUSE_DSM: no setting is called so; did you mean LOYALTY_CLICKHOUSE_DSN?" in said
    assert "LOYALTY_TICK_HOUR_UTC: no setting is called so; did you mean LOYALTY_TICK_HOUR?" in said
    with pytest.MonkeyPatch.context() as patch:  # another tool's variable that happens to start so is its own
        patch.setenv("LOYALTY_API_KEY", "secret")
        assert CliRunner().invoke(main, ["kpis"]).exit_code != 2


def test_a_wrong_value_in_the_config_file_names_the_file_its_line_and_the_key(tmp_path: Path) -> None:
    (tmp_path / "loyalty.toml").write_text('broker = "kafka:9092"\npartitions = "four"\nstatus_prot = 6065\n')

    said = refusal()

    assert "partitions in loyalty.toml, line 2 (or LOYALTY_PARTITIONS): 'four' is not a whole number" in said
    assert "status_prot in loyalty.toml, line 3: is no setting the engine knows; the settings are broker," in said


def test_a_config_file_that_is_not_toml_is_named_with_the_line(tmp_path: Path) -> None:
    broken = tmp_path / "engine.toml"
    broken.write_text('broker = "kafka:9092"\npartitions = \n')

    said = refusal(("LOYALTY_CONFIG_FILE", str(broken)))

    assert f"Error: {broken}: not valid TOML: Invalid value (at line 2, column 14)" in said
