"""Reading a program file: YAML in, a validated ``Program`` out, or an error naming the field."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import yaml
from pydantic import ValidationError

from processors.program import Program


class ProgramFileError(ValueError):
    pass


def load_program(path: Path | None) -> Program:
    """Load ``path``, or the bundled demo program when it is None."""
    if path is None:
        text = (resources.files("streams") / "programs" / "default.yaml").read_text()
        where = "the bundled demo program"
    else:
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise ProgramFileError(f"{path}: cannot read the program file ({exc.strerror})") from exc
        where = str(path)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ProgramFileError(f"{where}: not valid YAML: {exc}") from exc
    try:
        return Program.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or '(top level)'}: {error['msg']}" for error in exc.errors()
        )
        raise ProgramFileError(f"{where}: {problems}") from exc
