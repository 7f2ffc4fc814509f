"""The Avro contracts shipped in ``schemas/avro``, loaded and parsed once, and every earlier version of them.

A schema registry keeps every version it was given, so a message written by an
earlier version of the engine still decodes after an upgrade. The embedded
registry keeps nothing (it derives ids from the text), so the engine ships the
texts: ``schemas/avro/versions`` holds each version of each contract as a
registry stores it, one file a version, named by the contract and its embedded
id (``python -m schemas.versions`` records a changed contract's new version).
"""

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


VERSIONS = "versions"


def recorded_versions() -> dict[str, str]:
    """Every version of the contracts recorded in ``schemas/avro/versions``: file name -> schema text."""
    folder = resources.files("schemas") / "avro" / VERSIONS
    return {entry.name: entry.read_text() for entry in folder.iterdir() if entry.name.endswith(".json")}
