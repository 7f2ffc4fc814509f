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


@cache
def contract_text(name: str) -> str:
    """The schema ``loyalty.v1.<name>`` as self-contained JSON text (named types it refers to expanded),
    as a schema registry stores it."""
    from fastavro.schema import load_schema

    path = resources.files("schemas") / "avro" / f"{NAMESPACE}.{name}.avsc"
    with resources.as_file(path) as file:
        return json.dumps(load_schema(str(file), _write_hint=False), separators=(",", ":"))


@cache
def load_contract(name: str) -> Any:
    """The self-contained schema ``loyalty.v1.<name>`` as a dict."""
    return json.loads(contract_text(name))
