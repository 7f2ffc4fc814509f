"""The Avro contracts shipped in ``schemas/avro``, loaded and parsed once."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

NAMESPACE = "loyalty.v1"


def contract_names() -> list[str]:
    prefix = f"{NAMESPACE}."
    return sorted(
        entry.name.removeprefix(prefix).removesuffix(".avsc")
        for entry in (resources.files("schemas") / "avro").iterdir()
        if entry.name.startswith(prefix) and entry.name.endswith(".avsc")
    )


def _load(name: str, parsed_hint: bool) -> Any:
    from fastavro.schema import load_schema

    path = resources.files("schemas") / "avro" / f"{NAMESPACE}.{name}.avsc"
    with resources.as_file(path) as file:
        return load_schema(str(file), _write_hint=parsed_hint)


@cache
def load_contract(name: str) -> Any:
    """The parsed schema ``loyalty.v1.<name>``, named types it refers to expanded, as fastavro parses it."""
    return _load(name, parsed_hint=True)


@cache
def contract_text(name: str) -> str:
    """The self-contained schema as JSON text, as a schema registry stores it."""
    return json.dumps(_load(name, parsed_hint=False), separators=(",", ":"))
