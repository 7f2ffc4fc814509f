"""Feed files: a retailer's events as JSON Lines or CSV, checked against the LoyaltyEvent contract.

Each JSON line is one event: ``type`` (the body's record name: Purchase, Return,
MemberEnrolled, ...), the envelope's fields (``event_id``, ``occurred_at``,
``source``, ``member_id`` or ``card_token``) and the body's fields, all at the
top level and named as in ``schemas/avro/loyalty.v1.LoyaltyEvent.avsc``::

    {"type": "Purchase", "event_id": "order-1", "occurred_at": "2026-11-24T10:15:00+01:00", "source": "webshop",
     "member_id": "M1", "order_id": "O1", "channel": "web", "currency": "SEK", "total_minor": 29900,
     "lines": [{"line_id": "1", "sku": "TOP-1", "category": "tops", "quantity": 1, "amount_minor": 29900}]}

A CSV file has the same names as columns. An event with lines (a purchase or a
return) takes one row per line, next to each other with the same ``event_id``;
the line's own columns (``line_id``, ``sku``, ...) change from row to row, the
event's stay blank or equal. A list of strings (``segments``) is one cell,
separated by ``;``. A blank cell is a missing value.

Money is a whole number in minor units (29900 is 299.00); times are ISO 8601
with a UTC offset. Every mistake is reported with its file, line and field and
what is allowed: a file is sent whole or not at all, and since every event
carries its source's ``event_id``, sending a file again changes nothing.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from processors.validation import problems, too_far_ahead
from schemas.codec import AvroCodec
from schemas.contracts import NAMESPACE, load_contract
from schemas.registry import EmbeddedRegistry
from streams.ingest import field_with_pan
from streams.kafka import MAX_MESSAGE_BYTES, MESSAGE_FRAMING_BYTES
from streams.records import ENGINE_MADE, body_type, event_from_record
from streams.text_file import ENCODING, not_utf8
from streams.topics import EVENTS

Record = dict[str, Any]

FORMATS = {".jsonl": "json", ".ndjson": "json", ".csv": "csv"}
LIST_SEPARATOR = ";"
_INT_RANGE = {"int": 2**31, "long": 2**63}


class Wrong(ValueError):
    """A value the contract does not allow; the message starts with the field's name."""


@dataclass(frozen=True)
class FeedEvent:
    line: int
    key: bytes  # the source, as the input topic is keyed
    record: Record  # a LoyaltyEvent, as the codec encodes it


@dataclass
class FeedCheck:
    """What checking files found: events by type, and every problem as ``file:line: field: what is wrong``.

    ``repeats`` name events given twice, the same both times: sent twice, they are applied once.
    """

    events: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    repeats: list[str] = field(default_factory=list)


def feed_format(path: Path) -> str:
    found = FORMATS.get(path.suffix.lower())
    if found is None:
        raise Wrong(f"{path}: cannot tell the format from the name: end it in .jsonl (JSON Lines) or .csv")
    return found


def check_feed(paths: list[Path], max_future: timedelta, now: datetime | None = None) -> FeedCheck:
    """Check every event in ``paths``: send them only if ``problems`` is empty.

    Ingest's checks all apply, its margin for clocks (``max_future``) counted from ``now``, as if sent now.
    """
    now = datetime.now(UTC) if now is None else now
    checked = FeedCheck()
    first_use: dict[str, tuple[bytes, Path, int]] = {}  # by event_id: the event's digest, where it was first given
    for path in paths:
        for item in read_feed(path):
            if isinstance(item, str):
                checked.problems.append(item)
                continue
            ahead = too_far_ahead(item.record["occurred_at"], now, max_future, "now")
            if ahead is not None:
                checked.problems.append(f"{path}:{item.line}: {ahead}")
                continue
            too_big = _too_big(item)
            if too_big is not None:
                checked.problems.append(f"{path}:{item.line}: {too_big}")
                continue
            event_id, digest = item.record["event_id"], _digest(item.record)
            first_digest, first_path, first_line = first_use.setdefault(event_id, (digest, path, item.line))
            if (first_path, first_line) != (path, item.line):
                # The engine applies an event_id once: a second, different event under it would vanish.
                where = f"{path}:{item.line}: event_id {event_id}: "
                first = f"line {first_line}" + ("" if first_path == path else f" ({first_path})")
                if first_digest != digest:
                    checked.problems.append(f"{where}already used by a different event on {first}: give each event "
                                            "its own event_id")
                    continue
                checked.repeats.append(f"{where}the same event as on {first}: the engine applies it once")
            checked.events[body_type(item.record)] += 1
    return checked


def _too_big(event: FeedEvent) -> str | None:
    """Why ``event`` cannot be one Kafka message, or None: the client would refuse it half-way through a file."""
    size = len(_codec().encode(EVENTS, "LoyaltyEvent", event.record)) + len(event.key) + MESSAGE_FRAMING_BYTES
    if size <= MAX_MESSAGE_BYTES:
        return None
    lines = event.record["body"][1].get("lines")
    if lines:
        return (f"lines: too many lines, {len(lines):,}, the most is {len(lines) * MAX_MESSAGE_BYTES // size:,} "
                f"lines like these (an event is one Kafka message of at most {MAX_MESSAGE_BYTES:,} bytes, this one "
                f"takes {size:,}): split the order into several events")
    return (f"the event takes {size:,} bytes encoded, more than the {MAX_MESSAGE_BYTES:,} of a Kafka message: "
            "shorten its texts")


@cache
def _codec() -> AvroCodec:
    """A codec to weigh events with: the registry's ids are all four bytes, so the embedded one weighs alike."""
    return AvroCodec(EmbeddedRegistry())


def _digest(record: Record) -> bytes:
    """A short fingerprint of an event, to tell a repeat from another event under the same id without keeping it."""
    return hashlib.blake2b(repr(record).encode(), digest_size=16).digest()


def read_feed(path: Path) -> Iterator[FeedEvent | str]:
    """Each event of ``path`` in file order, or a problem (``file:line: ...``) where a line is wrong."""
    try:
        from_text = feed_format(path) == "csv"
        rows = _csv_objects(path) if from_text else _json_objects(path)
        for line, value in rows:
            if isinstance(value, str):
                yield f"{path}:{line}: {value}"
                continue
            try:
                record = event_record(value, from_text)
            except Wrong as exc:
                yield f"{path}:{line}: {exc}"
                continue
            yield FeedEvent(line, record["source"].encode(), record)
    except Wrong as exc:
        yield str(exc)
    except UnicodeDecodeError:
        yield f"{path}:{not_utf8(path)}" + (" (in Excel: CSV UTF-8)" if path.suffix.lower() == ".csv" else "")
    except OSError as exc:
        yield f"{path}: cannot read the file ({exc})"


def feed_events(paths: list[Path]) -> Iterator[FeedEvent]:
    """The events of files ``check_feed`` found no problem in; ``Wrong`` if one turns up (the file changed)."""
    for path in paths:
        for item in read_feed(path):
            if isinstance(item, str):
                raise Wrong(f"{item} (the file changed after it was checked)")
            yield item


def event_record(value: dict[str, Any], from_text: bool = False) -> Record:
    """The LoyaltyEvent record for one event's flat fields; ``Wrong`` names the first field the contract refuses.

    ``from_text``: the values are CSV cells (numbers and lists written as text).
    """
    shape = _shape(_body_kind(value.get("type")))
    for name in value:
        if name not in shape.known:
            raise Wrong(f"{name}: not a field of a {shape.kind} event; its fields are "
                        f"{', '.join(sorted(shape.known - {'type'}))}")
    record = {f["name"]: _field(f, value.get(f["name"]), f["name"], from_text) for f in shape.envelope}
    record.setdefault("card_token", None)  # a CardLinked's or CardUnlinked's token is its body's
    body = {name: value[name] for name in shape.body_fields if name in value}
    record["body"] = (f"{NAMESPACE}.{shape.kind}", _value(shape.body, body, "", from_text))
    _check_meaning(record)
    return record


@dataclass(frozen=True)
class _Shape:
    """One event type's fields: its body's, the envelope's it does not override, and the line columns."""

    kind: str
    body: dict[str, Any]
    body_fields: frozenset[str]
    envelope: tuple[dict[str, Any], ...]
    known: frozenset[str]
    line_fields: frozenset[str]


@cache
def _shape(kind: str) -> _Shape:
    body = _bodies()[kind]
    body_fields = frozenset(f["name"] for f in body["fields"])
    envelope = tuple(f for f in _envelope_fields() if f["name"] not in body_fields)
    lines = next((f for f in body["fields"] if f["name"] == "lines"), None)
    items = lines["type"]["items"] if lines else {"fields": []}
    line_fields = frozenset(f["name"] for f in (_named()[items] if isinstance(items, str) else items)["fields"])
    return _Shape(kind, body, body_fields, envelope, body_fields | {f["name"] for f in envelope} | {"type"},
                  line_fields)


def _check_meaning(record: Record) -> None:
    pan_field = field_with_pan(record)
    if pan_field is not None:
        raise Wrong(f"{pan_field.removeprefix('body.')}: holds a card number (PAN): send the card's token, "
                    "never the number")
    if not record["member_id"] and not record["card_token"]:
        raise Wrong("member_id: missing: a card feed sends card_token (of a linked card) instead")
    # The rules' own checks (ingest runs the same); a card feed's member is only known to the engine.
    found = problems(event_from_record({**record, "member_id": record["member_id"] or "(by card_token)"}))
    if found:
        raise Wrong("; ".join(found))


def _body_kind(given: Any) -> str:
    kind = _kinds().get(given.replace("_", "").lower()) if isinstance(given, str) else None
    if kind is not None and kind not in ENGINE_MADE:
        return kind
    allowed = ", ".join(sorted(name for name in _bodies() if name not in ENGINE_MADE))
    if not isinstance(given, str) or not given:
        raise Wrong(f"type: missing: one of {allowed}")
    if kind is None:
        raise Wrong(f"type: {given!r} is not an event type: one of {allowed}")
    raise Wrong(f"type: {kind} events are sent by the engine itself, not by a feed: one of {allowed}")


@cache
def _kinds() -> dict[str, str]:
    """Each body type by its name in lower case without underscores: Purchase, purchase, member_enrolled, ..."""
    return {name.lower(): name for name in _bodies()}


def _field(schema: dict[str, Any], value: Any, where: str, from_text: bool) -> Any:
    if value is None and "default" in schema:
        return schema["default"]
    return _value(schema["type"], value, where, from_text)


def _value(schema: Any, value: Any, where: str, from_text: bool) -> Any:
    """``value`` as the codec takes it for ``schema``, or ``Wrong`` naming ``where``."""
    schema = _named().get(schema, schema) if isinstance(schema, str) else schema
    if isinstance(schema, list):  # only ["null", X] unions occur in the contract
        if value is None:
            return None
        return _value(next(s for s in schema if s != "null"), value, where, from_text)
    if value is None:
        raise Wrong(f"{where}: missing")
    kind = schema if isinstance(schema, str) else schema["type"]
    if isinstance(schema, dict) and schema.get("logicalType") == "timestamp-millis":
        return _timestamp(value, where)
    if kind == "string":
        if not isinstance(value, str):
            raise Wrong(f"{where}: must be text, got {value!r}")
        return value
    if kind in _INT_RANGE:
        return _whole_number(value, where, from_text, _INT_RANGE[kind])
    if kind == "enum":
        if value not in schema["symbols"]:
            raise Wrong(f"{where}: {value!r} is not one of {', '.join(schema['symbols'])}")
        return value
    if kind == "array":
        if from_text and isinstance(value, str):
            value = [part.strip() for part in value.split(LIST_SEPARATOR)]
        if not isinstance(value, list):
            raise Wrong(f"{where}: must be a list, got {value!r}")
        return [_value(schema["items"], item, f"{where}[{i}]", from_text) for i, item in enumerate(value)]
    if kind == "record":
        if not isinstance(value, dict):
            raise Wrong(f"{where}: must be an object with {', '.join(f['name'] for f in schema['fields'])}")
        names = {f["name"] for f in schema["fields"]}
        for name in value:
            if name not in names:
                raise Wrong(f"{where}.{name}: not a field here; the fields are {', '.join(sorted(names))}")
        prefix = f"{where}." if where else ""
        return {f["name"]: _field(f, value.get(f["name"]), prefix + f["name"], from_text) for f in schema["fields"]}
    raise Wrong(f"{where}: the contract's type {kind} cannot be read from a feed file")


def _whole_number(value: Any, where: str, from_text: bool, bound: int) -> int:
    if from_text and isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        money = " (money in minor units: 29900 for 299.00)" if where.endswith("_minor") else ""
        raise Wrong(f"{where}: must be a whole number{money}, got {value!r}")
    if not -bound <= value < bound:
        raise Wrong(f"{where}: {value} is out of range")
    return value


def _timestamp(value: Any, where: str) -> datetime:
    try:
        when = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        when = None
    if when is None:
        raise Wrong(f"{where}: must be an ISO 8601 time with a UTC offset, e.g. 2026-11-24T10:15:00+01:00, "
                    f"got {value!r}")
    if when.tzinfo is None:
        raise Wrong(f"{where}: {value!r} has no UTC offset: add one, e.g. {value}Z for UTC or {value}+01:00")
    return when.astimezone(UTC)


class _GivenTwice(Exception):
    """A key written twice in one JSON object: ``json`` would silently keep the last."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        raise _GivenTwice(_repeated([key for key, _ in pairs]))
    return found


def _repeated(names: list[str]) -> str | None:
    """The first name of ``names`` that is one given before, or None."""
    return next((name for i, name in enumerate(names) if name in names[:i]), None)


_JSON = json.JSONDecoder(object_pairs_hook=_unique_keys)


def _json_objects(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    with path.open(encoding=ENCODING) as lines:
        for number, text in enumerate(lines, 1):
            if not text.strip():
                continue
            try:
                value = _JSON.decode(text)
            except json.JSONDecodeError as exc:
                yield number, f"not JSON ({exc.msg} at column {exc.colno}): write one JSON object a line"
                continue
            except _GivenTwice as exc:
                yield number, f"{exc}: given twice on this line: give each field once"
                continue
            yield number, value if isinstance(value, dict) else f"not a JSON object: {text.strip()[:40]}"


def _csv_objects(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """One flat object per event: rows next to each other with the same event_id add lines to it."""
    with path.open(encoding=ENCODING, newline="") as file:
        reader = csv.DictReader(file)
        columns = list(reader.fieldnames or ())
        twice = _repeated(columns)
        if twice is not None:  # DictReader would silently keep the last column's cell
            first, again = [i for i, name in enumerate(columns, 1) if name == twice][:2]
            yield 1, f"column {twice}: given twice (columns {first} and {again}): give each column once"
            return
        unknown = sorted(set(columns) - _column_names())
        if unknown:
            yield 1, (f"column {', '.join(unknown)}: not a field of any event; the columns are "
                      f"{', '.join(sorted(_column_names()))}")
            return
        start, current = 0, None
        for row in reader:
            if None in row:
                yield reader.line_num, (f"{len(row) - 1 + len(row[None])} cells, but the header has "
                                        f"{len(row) - 1} columns")
                continue
            cells = {name: text for name, text in row.items() if text is not None and text.strip() != ""}
            if current is not None and cells.get("event_id") == current.get("event_id") and _lines_of(current):
                problem = _add_line(current, cells, start)
                if problem:
                    yield reader.line_num, problem
                continue
            if current is not None:
                yield start, current
            start, current = reader.line_num, _first_row(cells)
        if current is not None:
            yield start, current


def _lines_of(value: dict[str, Any]) -> list[dict[str, str]] | None:
    lines = value.get("lines")
    return lines if isinstance(lines, list) else None


def _first_row(cells: dict[str, str]) -> dict[str, Any]:
    line_fields = _line_fields(cells.get("type"))
    value: dict[str, Any] = {name: text for name, text in cells.items() if name not in line_fields}
    if line_fields:
        line = {name: text for name, text in cells.items() if name in line_fields}
        value["lines"] = [line] if line else []
    return value


def _add_line(current: dict[str, Any], cells: dict[str, str], start: int) -> str | None:
    line_fields = _line_fields(current.get("type"))
    for name, text in cells.items():
        if name not in line_fields and current.get(name) != text:
            return (f"{name}: {text!r} differs from {current.get(name)!r} on line {start}, the first row of event "
                    f"{current['event_id']}: a row after the first may only add a line")
    current["lines"].append({name: text for name, text in cells.items() if name in line_fields})
    return None


@cache
def _envelope_fields() -> list[dict[str, Any]]:
    return [f for f in load_contract("LoyaltyEvent")["fields"] if f["name"] != "body"]


@cache
def _bodies() -> dict[str, dict[str, Any]]:
    """Each body record of the LoyaltyEvent union by its short name."""
    body = next(f for f in load_contract("LoyaltyEvent")["fields"] if f["name"] == "body")
    return {schema["name"].removeprefix(f"{NAMESPACE}."): schema for schema in body["type"]}


@cache
def _named() -> dict[str, Any]:
    """Named types (enums, records) by full name: the contract spells each out once, then refers to it by name."""
    found: dict[str, Any] = {}

    def visit(schema: Any) -> None:
        if isinstance(schema, list):
            for branch in schema:
                visit(branch)
        elif isinstance(schema, dict):
            if schema.get("type") in ("record", "enum"):
                found[schema["name"]] = schema
            for item in schema.get("fields", ()):
                visit(item["type"])
            if "items" in schema:
                visit(schema["items"])

    visit(load_contract("LoyaltyEvent"))
    return found


def _line_fields(kind: Any) -> frozenset[str]:
    """The columns of one line of an event of type ``kind`` (none for events without lines, or of no known type)."""
    try:
        return _shape(_body_kind(kind)).line_fields
    except Wrong:
        return frozenset()


@cache
def _column_names() -> frozenset[str]:
    names = {"type"} | {f["name"] for f in _envelope_fields()}
    for kind in _bodies():
        names |= {f["name"] for f in _bodies()[kind]["fields"] if f["name"] != "lines"} | _line_fields(kind)
    return frozenset(names)
