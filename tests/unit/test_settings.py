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
