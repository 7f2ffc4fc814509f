"""Reading a program file: YAML in, a validated ``Program`` out, or errors naming file, line and field.

pydantic says which field is wrong and why; the YAML node tree (which keeps
each node's position) says on which line that field is written. An unknown
field also gets the list of fields allowed in its place.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from processors.program import Program
from streams.text_file import ENCODING, not_utf8


class ProgramFileError(ValueError):
    """Every problem found in one program file, one per line of the message."""

    def __init__(self, where: str, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(f"{where}:{problem}" for problem in problems))


def bundled_program_text() -> str:
    demo = resources.files("streams") / "programs" / "default.yaml"  # examples/fashion.yaml
    return demo.read_text(encoding=ENCODING)


def load_program(path: Path | None) -> Program:
    """Load ``path``, or the bundled demo program when it is None."""
    if path is None:
        return parse_program(bundled_program_text(), "the bundled demo program")
    try:
        text = Path(path).read_text(encoding=ENCODING)
    except UnicodeDecodeError as exc:
        raise ProgramFileError(str(path), [not_utf8(Path(path))]) from exc
    except OSError as exc:
        raise ProgramFileError(str(path), [f" cannot read the program file ({exc.strerror})"]) from exc
    return parse_program(text, str(path))


def parse_program(text: str, where: str) -> Program:
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = f"{mark.line + 1}" if mark is not None else "1"
        raise ProgramFileError(where, [f"{line}: not valid YAML: {exc.problem}"]) from exc
    except _GivenTwice as exc:
        raise ProgramFileError(where, [str(exc)]) from exc
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise ProgramFileError(where, ["1: a program file is a mapping of sections (name:, currency:, earn:, ...)"])
    try:
        return Program.model_validate(data)
    except ValidationError as exc:
        found = [_problem(error, root) for error in exc.errors()]
        raise ProgramFileError(where, sorted(found, key=lambda problem: int(problem.partition(":")[0]))) from exc


class _GivenTwice(ValueError):
    """A key written twice in one mapping, as ``line: key: given twice (first on line N)``."""


class _Loader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping, where PyYAML silently keeps the last."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first: dict[tuple[str, str], int] = {}
        for key, _ in node.value:
            if not isinstance(key, yaml.ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
                continue  # a merge (<<) may be overridden: that is what it is for
            line, seen = key.start_mark.line + 1, first.get((key.tag, key.value))
            if seen is not None:
                raise _GivenTwice(f"{line}: {key.value}: given twice (first on line {seen})")
            first[key.tag, key.value] = line
        return super().construct_mapping(node, deep)


def _problem(error: ErrorDetails, root: yaml.Node | None) -> str:
    loc = [part for part in error["loc"] if isinstance(part, int) or not _is_tag(part)]
    message = error["msg"].removeprefix("Value error, ")
    named, _, rest = message.partition(": ")
    if named in _allowed_fields(loc):  # a rule across fields names the field it concerns
        loc, message = [*loc, named], rest
    field = ".".join(str(part) for part in loc) or "(top level)"
    if error["type"] == "extra_forbidden":
        allowed = _allowed_fields(loc[:-1])
        message = f"unknown field; allowed here: {', '.join(allowed)}" if allowed else "unknown field"
    elif error["type"] == "missing":
        message = "required, but missing"
    elif error["type"] in _SHAPES:
        message = f"must be {_SHAPES[error['type']]}, not {_shape_of(error['input'])}"
    return f"{_line(root, loc)}: {field}: {message}"


_LIST = "a list, e.g. [a, b] or one '- item' a line"
_SECTION = "a section of fields, one 'field: value' a line"
# pydantic's words for the shape a field wants ("a valid frozenset") in a program writer's words.
_SHAPES = {"list_type": _LIST, "tuple_type": _LIST, "set_type": _LIST, "frozen_set_type": _LIST,
           "dict_type": "a mapping, one 'name: value' a line", "model_type": _SECTION,
           "model_attributes_type": _SECTION}


def _shape_of(value: object) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return f"{str(value).lower()} (true or false)"
    if isinstance(value, int | float | str):
        return repr(value) if len(repr(value)) <= 40 else "a long text"
    return "a mapping" if isinstance(value, dict) else "a list" if isinstance(value, list) else type(value).__name__


def _is_tag(part: str) -> bool:
    """pydantic puts validator and type names (``function-after[...]``, ``tuple[...]``) into locations."""
    return "[" in part or part in {"str", "int", "list", "dict", "tuple", "frozenset", "set"}


def _line(root: yaml.Node | None, loc: list[int | str]) -> int:
    """The line of the deepest node along ``loc`` (the parent's, when the field itself is missing)."""
    node = root
    line = (root.start_mark.line + 1) if root is not None else 1
    for part in loc:
        child = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == str(part):
                    child, line = value, key.start_mark.line + 1
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            child = node.value[part]
            line = child.start_mark.line + 1
        if child is None:
            break
        node = child
    return line


def _allowed_fields(loc: list[int | str]) -> list[str]:
    model: type[BaseModel] | None = Program
    for part in loc:
        if model is None:
            return []
        field = model.model_fields.get(str(part))
        if field is not None:
            model = _model_in(field.annotation)
    return list(model.model_fields) if model is not None else []


def _model_in(annotation: object) -> type[BaseModel] | None:
    """The model class inside an annotation like ``tuple[TierPolicy, ...]`` or ``SocialPoints | None``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is not None:
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None
