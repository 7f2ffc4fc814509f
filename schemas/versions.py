"""Record the contracts' current versions in ``schemas/avro/versions``, so that what they write stays readable.

    python -m schemas.versions

Run it after changing a contract (a test fails until the new version is
recorded) and commit the file it writes. Recorded versions are never changed
or removed: messages written with them may still be on a topic.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from schemas.contracts import NAMESPACE, VERSIONS, contract_names, contract_text, recorded_versions
from schemas.registry import embedded_id


def version_file_name(name: str) -> str:
    """The file the current version of contract ``name`` is recorded in."""
    return f"{NAMESPACE}.{name}.{embedded_id(contract_text(name))}.json"


def unrecorded() -> list[str]:
    """The contracts whose current version is not recorded yet."""
    recorded = recorded_versions()
    return [name for name in contract_names() if version_file_name(name) not in recorded]


def main() -> None:
    folder = Path(str(resources.files("schemas") / "avro" / VERSIONS))
    names = unrecorded()
    for name in names:
        path = folder / version_file_name(name)
        path.write_text(contract_text(name) + "\n")
        print(f"recorded {path}")
    if not names:
        print("every contract's current version is recorded")


if __name__ == "__main__":
    main()
