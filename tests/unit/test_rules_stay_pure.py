"""The rules package stays exact, typed and free of I/O: checked on its source."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import processors

SOURCES = sorted(Path(processors.__file__).parent.glob("*.py"))
IO_PACKAGES = {
    "faust",
    "mode",
    "aiokafka",
    "confluent_kafka",
    "kafka",
    "clickhouse_connect",
    "chdb",
    "fastavro",
    "cavro",
}


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_no_float_enters_the_rules(source: Path) -> None:
    tree = ast.parse(source.read_text())
    for node in ast.walk(tree):
        assert not (isinstance(node, ast.Constant) and isinstance(node.value, float)), (
            f"float literal at line {node.lineno}"
        )
        assert not isinstance(node, ast.Div), f"true division (gives a float) at line {node.lineno}"
        assert not (isinstance(node, ast.Name) and node.id == "float"), f"float at line {node.lineno}"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_the_rules_import_no_io_library(source: Path) -> None:
    tree = ast.parse(source.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            continue
        assert not {name.split(".")[0] for name in names} & IO_PACKAGES, f"line {node.lineno} imports {names}"


@pytest.mark.parametrize("options", [["--strict", "processors", "schemas"], ["streams", "sinks", "bench"]],
                         ids=["rules and contracts, strictly", "wiring and benchmarks"])
def test_the_code_type_checks(options: list[str]) -> None:
    checked = subprocess.run([sys.executable, "-m", "mypy", *options], cwd=Path(processors.__file__).parents[1],
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
