"""The one reader of the environment: every setting, typed, with embedded defaults.

Values come from ``LOYALTY_*`` environment variables, then from a TOML file
(``loyalty.toml`` in the working directory if there is one, or the file
``LOYALTY_CONFIG_FILE`` names, which must be there), then from the defaults below. The defaults run
everything on this machine: the embedded broker and an embedded ClickHouse.
Pointing the engine at a real Kafka, schema registry and ClickHouse server
takes settings only.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, NonNegativeInt, PositiveInt, ValidationError, ValidationInfo, field_validator
from pydantic_core import ErrorDetails, PydanticCustomError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

EMBEDDED = "embedded"
CONFIG_FILE_VARIABLE = "LOYALTY_CONFIG_FILE"
LAST_PORT = 65535
CLICKHOUSE_SCHEMES = ("http", "https", "chdb")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
DEFAULT_CONFIG_FILE = Path("loyalty.toml")


class SettingsError(ValueError):
    """The settings cannot be read; the message names each variable or file key and what it must be."""


def config_file() -> Path:
    """The TOML file the settings are read from: one named by ``LOYALTY_CONFIG_FILE`` must be there, for a typo
    there would otherwise run the engine on the defaults (embedded everything) without a word."""
    named = os.environ.get(CONFIG_FILE_VARIABLE)
    if not named:
        return DEFAULT_CONFIG_FILE
    path = Path(named)
    if not path.exists():
        raise SettingsError(f"{CONFIG_FILE_VARIABLE} names {path}, which does not exist")
    if not path.is_file():
        raise SettingsError(f"{CONFIG_FILE_VARIABLE} names {path}, which is not a file (a TOML file is wanted)")
    return path


def _server_url(url: str, schemes: tuple[str, ...], error: str, wanted: str, hostless: str = "") -> str:
    """``url`` if it names one of ``schemes`` and a host (none needed for the ``hostless`` scheme), else an error
    saying what is ``wanted``."""
    parts = urlsplit(url)
    if parts.scheme not in schemes or (parts.scheme != hostless and not parts.hostname):
        raise PydanticCustomError(error, wanted)
    return url


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LOYALTY_", extra="forbid")

    broker: str = Field(EMBEDDED, description="Kafka bootstrap servers, or 'embedded' to start a local broker")
    schema_registry_url: str = Field("embedded://", description="Confluent-compatible registry URL")
    clickhouse_dsn: str = Field(EMBEDDED, description="clickhouse-connect DSN, or 'embedded' for chDB")
    clickhouse_database: str = "loyalty"
    program_file: Path | None = Field(None, description="YAML program file; the bundled demo program if unset")
    data_dir: Path = Field(Path(".loyalty"), description="Where embedded state, logs and chDB data live")
    partitions: PositiveInt = 4
    workers: PositiveInt = Field(
        default_factory=lambda: min(os.cpu_count() or 1, 2),
        description="Worker processes, sharing the partitions (up to one per partition is useful); on several "
        "cores more than one applies more events a second. Default: 2, or 1 on a single core",
    )
    worker_web_port: PositiveInt = Field(6066, le=LAST_PORT,
                                         description="Web port of the first worker; the next ones count up")
    ingest_batch_events: PositiveInt = 10_000
    ingest_linger_ms: NonNegativeInt = Field(
        20, description="How long ingest waits after an event for more, to pass on fuller member batches"
    )
    card_wait_seconds: NonNegativeInt = Field(
        10, description="How long ingest holds a card transaction whose card is not linked yet, for its CardLinked "
        "from another source to arrive, before the transaction is a dead letter (which `loyalty run` sends again once "
        "the card is linked)"
    )
    max_future_days: NonNegativeInt = Field(
        1, description="How many days after it reaches the engine an input event may be dated (clocks differ); "
        "one dated later is a dead letter: a wrong clock, or a mistyped year"
    )
    sink_batch_rows: PositiveInt = 50_000
    sink_flush_ms: PositiveInt = Field(
        500, description="How long the sink gathers rows before an insert: each insert costs ClickHouse a new part "
        "to merge, and at 250 ms the sink took a third more CPU, which the rest of the engine waited for"
    )
    fetch_wait_ms: PositiveInt = Field(
        10, description="Longest a consumer's fetch waits at the broker; the embedded broker answers a waiting fetch "
        "only half-way through its wait or at its end"
    )
    status_host: str = Field("127.0.0.1", description="Where `loyalty run` serves /health and /metrics; 0.0.0.0 "
                             "for probes from outside the machine or container")
    status_port: NonNegativeInt = Field(6065, le=LAST_PORT,
                                        description="Port of /health and /metrics; 0 serves neither")
    tick_hour: int = Field(3, ge=0, le=23, description="Hour `loyalty run` sends each day's clock ticks, in the "
                           "program's time zone (UTC unless the program names one)")
    log_level: Literal["crit", "error", "warn", "info", "debug"] = Field("warn", description="Worker log level")

    @field_validator("worker_web_port")
    @classmethod
    def _ports_for_every_worker(cls, port: int, info: ValidationInfo) -> int:
        workers = info.data.get("workers", 1)
        if port + workers - 1 > LAST_PORT:
            raise PydanticCustomError("ports_past_end", "leaves no port for worker {workers} of {workers} (ports end "
                                      "at {last}): give one up to {most}", {"workers": workers, "last": LAST_PORT,
                                                                          "most": LAST_PORT - workers + 1})
        return port

    @field_validator("schema_registry_url")
    @classmethod
    def _registry_url(cls, url: str) -> str:
        if url in ("", EMBEDDED, "embedded://") or url.startswith("mock://"):
            return url
        return _server_url(url, ("http", "https"), "registry_url", "is not a schema registry's URL: write "
                           "http://host:8081 (or https://...), or embedded:// for the embedded one")

    @field_validator("clickhouse_dsn")
    @classmethod
    def _clickhouse_dsn(cls, dsn: str) -> str:
        if dsn == EMBEDDED:
            return dsn
        # clickhouse-connect reads a DSN without a scheme or host as localhost: the engine would write elsewhere
        return _server_url(dsn, CLICKHOUSE_SCHEMES, "clickhouse_dsn", "is not a ClickHouse URL: write "
                           "http://user:password@host:8123 (or https://...), or embedded", hostless="chdb")

    @field_validator("clickhouse_database")
    @classmethod
    def _database_name(cls, name: str) -> str:
        if not _IDENTIFIER.fullmatch(name):
            raise PydanticCustomError("database_name", "is not a plain ClickHouse database name: letters, digits "
                                      "and _, not starting with a digit")
        return name

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=config_file())

    @property
    def embedded_broker(self) -> bool:
        return self.broker == EMBEDDED

    @property
    def embedded_clickhouse(self) -> bool:
        return self.clickhouse_dsn == EMBEDDED

    def worker_web_port_of(self, index: int) -> int:
        """The web port of worker ``index`` (its progress page)."""
        return self.worker_web_port + index

    def resolved_clickhouse_dsn(self) -> str:
        if self.embedded_clickhouse:
            return f"chdb://{(self.data_dir / 'clickhouse').resolve()}"
        return self.clickhouse_dsn


def load_settings() -> Settings:
    """The settings from the environment and the config file, or a ``SettingsError`` that says, for each wrong
    value, which variable or file key holds it and what it must be."""
    misspelt = _misspelt_variables()
    if misspelt:
        raise SettingsError("\n".join(misspelt))
    try:
        return Settings()
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{config_file()}: not valid TOML: {exc}") from exc
    except OSError as exc:
        raise SettingsError(f"cannot read {config_file()}: {exc.strerror}") from exc
    except ValidationError as exc:
        raise SettingsError("\n".join(_setting_problem(error) for error in exc.errors())) from exc


def _misspelt_variables() -> list[str]:
    """``LOYALTY_*`` variables that are no setting but nearly spell one: read, they would be ignored without a
    word (a variable of another tool's that happens to start so is left alone)."""
    known = {f"LOYALTY_{name.upper()}" for name in Settings.model_fields} | {CONFIG_FILE_VARIABLE}
    found = []
    for name in sorted(os.environ):
        upper = name.upper()
        if upper.startswith("LOYALTY_") and upper not in known:
            close = difflib.get_close_matches(upper, known, n=1, cutoff=0.8)
            if close:
                found.append(f"{name}: no setting is called so; did you mean {close[0]}?")
    return found


_SAID = {
    "int_parsing": "is not a whole number",
    "int_type": "is not a whole number",
    "int_from_float": "is not a whole number",
    "float_parsing": "is not a number",
    "bool_parsing": "is not true or false",
    "greater_than": "must be more than {gt}",
    "greater_than_equal": "must be {ge} or more",
    "less_than_equal": "must be {le} or less",
    "literal_error": "must be one of {expected}",
    "extra_forbidden": "is no setting the engine knows",
}


def _setting_problem(error: ErrorDetails) -> str:
    """One wrong value, named where it is written: ``LOYALTY_PARTITIONS: 'abc' is not a whole number``."""
    key = str(error["loc"][0]) if error["loc"] else "(settings)"
    variable = f"LOYALTY_{key.upper()}"
    said = (_SAID[error["type"]].format(**error.get("ctx", {})) if error["type"] in _SAID
            else error["msg"][:1].lower() + error["msg"][1:])
    if error["type"] == "extra_forbidden":
        return f"{key} in {config_file()}{_line_of(key)}: {said}; the settings are {', '.join(Settings.model_fields)}"
    if variable.lower() in {name.lower() for name in os.environ}:
        where = variable
    else:
        where = f"{key} in {config_file()}{_line_of(key)} (or {variable})"
    return f"{where}: {error['input']!r} {said}"


def _line_of(key: str) -> str:
    """``, line N`` where ``key`` is set in the config file, so a wrong value is found at once."""
    try:
        lines = config_file().read_text().splitlines()
    except OSError:
        return ""
    setting = re.compile(rf"\s*{re.escape(key)}\s*=")
    return next((f", line {n}" for n, line in enumerate(lines, 1) if setting.match(line)), "")


def worker_name(index: int) -> str:
    """The name of worker ``index``'s log and data folder: ``worker``, then ``worker-1``, ``worker-2``, ..."""
    return f"worker-{index}" if index else "worker"
