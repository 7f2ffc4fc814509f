"""The ``loyalty`` command: demo, run, feed, member, kpis, dashboard, simulate, program check|explain (and inner
processes)."""

from __future__ import annotations

import json
import re
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import click
from rich.console import Console
from rich.table import Table

from processors.events import Channel
from processors.program import Program
from processors.refusals import unknown_member_reason
from streams.runtime import tune_gc
from streams.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from processors.events import PurchaseLine
    from processors.state import MemberState

console = Console(stderr=True)


class ConfigurationError(click.ClickException):
    """A setting or the program file is wrong: like a wrong option, a usage error (exit code 2), and nothing is
    started."""

    exit_code = 2


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        raise ConfigurationError(str(exc)) from exc


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """A streaming loyalty engine: purchases in, exact points, tiers and rewards out, analytics in ClickHouse.

    Settings come from LOYALTY_* environment variables or loyalty.toml; the defaults
    start an embedded broker and an embedded ClickHouse on this machine.
    """


@main.command()
@click.option("--members", default=5_000, show_default=True, type=click.IntRange(min=1),
              help="Members in the synthetic retailer (at least 1).")
@click.option("--events", default=100_000, show_default=True, type=click.IntRange(min=0),
              help="Events in the synthetic day (0: only the members and a few broken events).")
@click.option("--seed", default=7, show_default=True, help="Random seed: the same seed gives the same day.")
@click.option("--timeout", default=600, show_default=True, type=click.IntRange(min=1),
              help="Seconds to wait for everything to be stored.")
def demo(members: int, events: int, seed: int, timeout: int) -> None:
    """Run a synthetic retail day end to end on a fresh engine, print a summary, and stop.

    Starts the broker (embedded by default), the Faust worker and the ClickHouse sink,
    feeds the day with a progress bar, waits until every event is processed and stored,
    then answers KPI queries from ClickHouse. The demo keeps its data in demo/ of the
    data directory (LOYALTY_DATA_DIR), made fresh each time: nothing else there is touched.
    """
    from streams.demo import DemoDirectoryTaken, demo_data_directory, run_demo
    from streams.engine_lock import DataDirectoryUnusable, EngineAlreadyRunning
    from streams.processes import ClickHouseUnreachable, EngineStopped, PortInUse

    configured = _settings()
    rules = _program_or_fail(configured.program_file)
    try:
        with demo_data_directory(configured) as settings:
            tune_gc()  # this process runs the ClickHouse sink
            summary = run_demo(settings, rules, members=members, events=events, seed=seed, timeout=timeout,
                               console=console)
    except (ClickHouseUnreachable, DemoDirectoryTaken, DataDirectoryUnusable, EngineAlreadyRunning, PortInUse,
            EngineStopped, TimeoutError) as exc:
        raise click.ClickException(str(exc)) from exc
    _print_table(summary, "Loyalty demo: one synthetic day")
    console.print(f"The demo's data is in {settings.data_dir}: `LOYALTY_DATA_DIR={settings.data_dir} loyalty kpis` "
                  "(or member, deadletters, run) reads it.")


@main.command()
@click.option("--fresh", is_flag=True, help="Start over: delete what the data directory holds (embedded broker and "
                                            "ClickHouse) first; refused while an engine runs with it.")
def run(fresh: bool) -> None:
    """Keep the worker and the ClickHouse sink running for a real feed, until Ctrl-C (or SIGTERM).

    Send events with `loyalty feed FILE` from another terminal, or produce LoyaltyEvent
    Avro to the input topic yourself. The embedded broker's topics are saved in the data
    directory when it stops and put back when it starts again. One engine runs with a data
    directory at a time: another `run` (or `demo`) is refused while this one runs.
    """
    import signal

    from streams.broker_snapshot import SnapshotError
    from streams.demo import run_engine
    from streams.engine_lock import DataDirectoryUnusable, EngineAlreadyRunning, clear_data_directory, engine_lock
    from streams.processes import EarlierStateLost, EngineStopped, PortInUse

    settings = _settings()
    rules = _program_or_fail(settings.program_file)
    # Ctrl-C, or SIGTERM from a service manager: stop cleanly, so the sink stores what it holds first. The
    # flag stays set where the interrupt is lost (some libraries' callbacks swallow it while starting).
    stopping = threading.Event()

    def stop(signum: int, frame: object) -> None:
        stopping.set()
        raise KeyboardInterrupt

    try:
        with engine_lock(settings.data_dir):
            if fresh and (settings.embedded_clickhouse or settings.embedded_broker):
                clear_data_directory(settings.data_dir)
            signal.signal(signal.SIGTERM, stop)
            signal.signal(signal.SIGINT, stop)
            tune_gc()  # this process runs the ClickHouse sink
            try:
                run_engine(settings, rules, console, stopping)
            except KeyboardInterrupt:  # stopped while starting: everything started is stopped cleanly all the same
                console.print("Stopped.")
    except (DataDirectoryUnusable, EngineAlreadyRunning, PortInUse, EarlierStateLost, SnapshotError,
            EngineStopped) as exc:
        raise click.ClickException(str(exc)) from exc


PROBLEMS_SHOWN = 20


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--check", "check_only", is_flag=True, help="Check the files and send nothing.")
def feed(files: tuple[Path, ...], check_only: bool) -> None:
    """Send the events in FILES (JSON Lines .jsonl, or .csv) to the engine's input topic.

    One event a line, with the fields of the LoyaltyEvent contract and its body's type
    (a CSV purchase or return takes one row per line item); the README shows both formats.
    Every file is checked first: each mistake is named by file, line and field, and then
    nothing is sent. Sending a file again changes nothing: events keep their event_id.
    With the embedded broker, run `loyalty run` first from the same directory.
    """
    from confluent_kafka import KafkaException

    from schemas.codec import AvroCodec, CodecError
    from schemas.registry import registry_for
    from streams.demo import produce, progress_bars
    from streams.feed_file import Wrong, check_feed, feed_events
    from streams.kafka import DeliveryFailed
    from streams.topics import EVENTS

    paths = list(files)
    settings = _settings()
    checked = check_feed(paths, timedelta(days=settings.max_future_days))
    found = checked.problems
    if found:
        more = f"\n... and {len(found) - PROBLEMS_SHOWN} more" if len(found) > PROBLEMS_SHOWN else ""
        raise click.ClickException(f"{len(found)} problem(s), nothing sent:\n" + "\n".join(found[:PROBLEMS_SHOWN])
                                   + more)
    total = sum(checked.events.values())
    if not total:
        raise click.ClickException(f"no events in {', '.join(map(str, paths))}")
    kinds = ", ".join(f"{kind} {count:,}" for kind, count in sorted(checked.events.items()))
    for repeat in checked.repeats[:PROBLEMS_SHOWN]:
        click.echo(f"note: {repeat}")
    if len(checked.repeats) > PROBLEMS_SHOWN:
        click.echo(f"note: ... and {len(checked.repeats) - PROBLEMS_SHOWN} more events given twice")
    if check_only:
        click.echo(f"ok: {total:,} events ({kinds})")
        return
    bootstrap = _engine_broker(settings)
    codec = AvroCodec(registry_for(settings.schema_registry_url))
    handed = 0  # events handed to the producer
    where = ""  # file:line of the event being sent

    def messages() -> Iterator[tuple[bytes, dict[str, Any]]]:
        nonlocal handed, where
        for path in paths:
            for event in feed_events([path]):
                where = f"{path}:{event.line}"
                yield event.key, event.record
                handed += 1

    again = "send the files again once that is fixed: the events already sent keep their event_id, so change nothing"
    try:
        with progress_bars(console) as progress:
            sent = progress.add_task("events sent to Kafka", total=total)
            produce(bootstrap, codec, messages(), lambda n: progress.advance(sent, n))
    except DeliveryFailed as exc:
        raise click.ClickException(f"{exc}, of the {handed:,} events sent to {EVENTS} at {bootstrap}; {again}") from exc
    except Wrong as exc:
        raise click.ClickException(f"{exc}; the {handed:,} events before it were sent; {again}") from exc
    except (KafkaException, CodecError) as exc:
        raise click.ClickException(f"{where}: not sent ({exc}); the {handed:,} events before it were sent; {again}"
                                   ) from exc
    click.echo(f"sent {total:,} events ({kinds}) to {EVENTS} at {bootstrap}")


def _engine_broker(settings: Settings) -> str:
    """The bootstrap address of the engine's broker, with its topics; an error that says what to do if none."""
    from confluent_kafka import KafkaException

    from streams.processes import NoRunningBroker, running_broker
    from streams.topics import ensure_topics

    try:
        bootstrap = running_broker(settings)
        ensure_topics(bootstrap, settings.partitions)
    except NoRunningBroker as exc:
        raise click.ClickException(str(exc)) from exc
    except KafkaException as exc:
        raise click.ClickException(f"the broker at {bootstrap} does not answer ({exc}): is the engine running? "
                                   "Start `loyalty run`, or set LOYALTY_BROKER") from exc
    return bootstrap


@main.command()
@click.option("--reason", default="", help="Only those whose reason contains this text (any case), e.g. "
              "'unknown card_token'.")
@click.option("--stage", type=click.Choice(["ingest", "member", "sink"]), help="Only those refused at this stage.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1), help="How many to list, latest "
              "first.")
@click.option("--resend", is_flag=True, help="Send every one that matches to the engine again (no limit), once what "
              "refused them is fixed.")
@click.option("--all", "include_applied", is_flag=True, help="Also those whose event was applied since: sent again "
              "once fixed, or anew by its source.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines (key and bytes in base64).")
def deadletters(reason: str, stage: str | None, limit: int, resend: bool, include_applied: bool,
                as_json: bool) -> None:
    """List the events the engine refused and has not applied since, with the reasons (from ClickHouse); send
    them again once fixed.

    Link the card, enrol the member or fix the program, then --resend: each event keeps its
    event_id, so one applied meanwhile changes nothing, and one still wrong is refused again
    with its reason. With embedded ClickHouse held by a running `loyalty run`, that engine answers.
    """
    settings = _settings()
    letters = _report(settings, "dead_letters", stage=stage, reason=reason, limit=None if resend else limit,
                      include_applied=include_applied)
    if resend:
        _resend(settings, letters, include_applied)
    elif as_json:
        click.echo(json.dumps(letters, indent=2))
    else:
        title = f"Dead letters, latest first{'' if len(letters) < limit else f' (the first {limit})'}"
        table = Table("recorded (UTC)", "stage", "event", "member", "reason", title=title)
        if include_applied:
            table.add_column("applied since")
        for letter in letters:
            row = [letter["recorded_at"][:19], letter["stage"], letter["event_id"] or "", letter["member_id"] or "",
                   letter["reason"]]
            table.add_row(*row, *(["yes" if letter["applied"] else ""] if include_applied else []))
        _print(table)


def _resend(settings: Settings, letters: list[dict[str, Any]], include_applied: bool) -> None:
    import base64

    from schemas.codec import AvroCodec
    from schemas.registry import registry_for
    from streams.resend import resend

    if not letters:
        raise click.ClickException("no dead letters match: nothing sent" + (
            "" if include_applied else " (those whose event was applied since are left out: --all includes them)"))
    for letter in letters:  # JSON carried them in base64
        for name in ("key", "value"):
            letter[name] = None if letter[name] is None else base64.b64decode(letter[name])
    resent = resend(_engine_broker(settings), AvroCodec(registry_for(settings.schema_registry_url)), letters)
    for dead_letter_id, why in resent.not_sent:
        click.echo(f"not sent: {dead_letter_id}: {why}", err=True)
    sent = ", ".join(f"{count:,} to {topic}" for topic, count in sorted(resent.sent.items())) or "none"
    click.echo(f"sent again: {sent}; {len(resent.not_sent):,} not sent")


@main.command(hidden=True)
def ingest() -> None:
    """The ingest process (decode, validate, batch per member); `loyalty run` starts it for you."""
    from streams.ingest_loop import run_ingest_process

    settings = _settings()
    tune_gc()
    run_ingest_process(settings)


@main.command(hidden=True)
@click.option("--index", default=0, show_default=True, help="Which of the `workers` this is: its data folder and web "
              "port.")
def worker(index: int) -> None:
    """A Faust worker process (the member agent); `loyalty run` starts them for you."""
    import faust

    from schemas.codec import AvroCodec
    from schemas.registry import registry_for
    from streams.changelog import seal_changelog
    from streams.group_offsets import commit_missing_start_offsets, open_member_batch_partitions
    from streams.topics import MEMBER_BATCHES, MEMBERS_CHANGELOG, ensure_topics
    from streams.worker import APP_ID, create_app

    settings = _settings()
    ensure_topics(settings.broker, settings.partitions)
    seal_changelog(settings.broker, MEMBERS_CHANGELOG, settings.partitions)
    open_member_batch_partitions(settings.broker, AvroCodec(registry_for(settings.schema_registry_url)),
                                 settings.partitions)
    commit_missing_start_offsets(settings.broker, APP_ID, MEMBER_BATCHES, settings.partitions)
    app = create_app(settings, settings.broker, index=index)
    tune_gc()
    runner = faust.Worker(app, loglevel=settings.log_level, quiet=True)
    runner.spinner = None
    runner.execute_from_commandline()


@main.command()
@click.argument("member_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
def member(member_id: str, as_json: bool) -> None:
    """Print a member's balance, tier and the ledger that explains every point of it (from ClickHouse).

    With embedded ClickHouse held by a running `loyalty run`, that engine answers.
    """
    settings = _settings()
    rules = _program_or_fail(settings.program_file)
    found = _report(settings, "member", rules, member_id=member_id)
    if found is None:
        reason = unknown_member_reason(member_id)
        waiting = len(_report(settings, "dead_letters", rules, stage="member", reason=reason, limit=None))
        unknown = (f"no member {member_id!r} in ClickHouse database {settings.clickhouse_database}"
                   + (f"; {waiting} event{'s' if waiting != 1 else ''} for it wait{'' if waiting != 1 else 's'} for "
                      f"its enrolment (`loyalty deadletters --reason '{reason}'`), applied once it is"
                      if waiting else ""))
        if as_json:  # a machine reads stdout: it gets JSON, and the exit status says it failed
            click.echo(json.dumps({"error": unknown}, indent=2))
            sys.exit(1)
        raise click.ClickException(unknown)
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    summary = found["member"]
    out = Console()
    days = ", ".join(f"{day['points']} from {day['day']}" for day in found["pending"])
    pending = f" ({summary['pending_points']} pending: {days})" if summary["pending_points"] else ""
    out.print(f"[bold]{member_id}[/]  tier [bold]{summary['tier']}[/]  balance [bold]{summary['balance']}[/] points"
              f"{pending}")
    zone = ZoneInfo(rules.time_zone)  # times as the member counts them
    table = Table(f"when ({zone.key})", "reason", "points", "balance", "detail")
    for entry in found["ledger"]:
        when = datetime.fromisoformat(entry["occurred_at"]).astimezone(zone)
        table.add_row(f"{when:%Y-%m-%d %H:%M:%S}", entry["reason"], f"{entry['points']:+d}",
                      str(entry["running_balance"]), entry["detail"])
    _print(table)


@main.command()
@click.option("--as-of", type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
              help="Day or time the KPIs are for, in the program's time zone (default: the latest event's time, "
                   "so a replayed history reads as it was).")
@click.option("--period-days", default=90, show_default=True, type=click.IntRange(1, 3650),
              help="The period churn, churn risk and recent customer value look back.")
@click.option("--by", type=click.Choice(["tier", "segment", "churn_risk"]),
              help="Break the KPIs down per current tier, marketing segment, or churn risk instead.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
def kpis(as_of: datetime | None, period_days: int, by: str | None, as_json: bool) -> None:
    """Print the program's KPIs from ClickHouse: liability, tiers, order value, churn, churn risk, CLV, redemptions,
    visit frequency, Net Promoter Score; with --by, per segment.

    Each is one query in sinks/queries.py (the `customers` view holds each buyer's churn risk, for dashboards).
    With embedded ClickHouse held by a running `loyalty run`, that engine answers.
    """
    from streams.reports import kpi_lines

    settings = _settings()
    rules = _program_or_fail(settings.program_file)
    when = as_of and as_of.replace(tzinfo=ZoneInfo(rules.time_zone))  # as the program's people count days
    found = _report(settings, "kpis", rules, as_of=when and when.isoformat(), period_days=period_days, by=by)
    if as_json:
        click.echo(json.dumps(found["figures"] if by is None else found["rows"], indent=2))
    elif by is None:
        _print_table(kpi_lines(found["figures"], rules),
                     f"{settings.clickhouse_database}: program KPIs")
    else:
        _print_breakdown(found["rows"], by, found["currency"],
                         f"{settings.clickhouse_database}: KPIs by {by.replace('_', ' ')} as of {found['as_of']}")


@main.command()
@click.option("--out", type=click.Path(dir_okay=False, writable=True),
              help="Write the dashboard to this file (default: print it).")
def dashboard(out: str | None) -> None:
    """Print the marketing dashboard for Grafana (ClickHouse plugin), made from the same queries as `loyalty kpis`.

    It is made for the configured program and ClickHouse database; deploy/grafana/ provisions it.
    """
    from sinks.dashboard import dashboard as grafana_dashboard

    settings = _settings()
    program = _program_or_fail(settings.program_file)
    text = json.dumps(grafana_dashboard(settings.clickhouse_database, program), indent=2)
    if out is None:
        click.echo(text)
        return
    try:
        Path(out).write_text(text + "\n")
    except OSError as exc:
        raise click.ClickException(f"cannot write {out}: {exc.strerror or exc}") from exc
    console.print(f"wrote the dashboard for {program.name} ({settings.clickhouse_database}) to {out}")


@main.group()
def program() -> None:
    """Check a program file, or print its rules in plain words."""


def _program_or_fail(path: str | Path | None) -> Program:
    from streams.program_file import ProgramFileError, load_program

    try:
        return load_program(Path(path) if path is not None else None)
    except ProgramFileError as exc:
        raise ConfigurationError(f"{len(exc.problems)} problem(s) in the program file:\n{exc}") from exc


@program.command("check")
@click.argument("file", type=click.Path(dir_okay=False))
def program_check(file: str) -> None:
    """Validate FILE; every mistake is named by line and field with what is allowed."""
    checked = _program_or_fail(file)
    click.echo(f"{file}: ok, program {checked.name!r} in {checked.currency}")


@program.command("explain")
@click.argument("file", type=click.Path(dir_okay=False))
def program_explain(file: str) -> None:
    """Print FILE's rules in words a member could read."""
    from processors.explain import explain

    click.echo("\n\n".join(explain(_program_or_fail(file))))


@main.command()
@click.option("--line", "lines", multiple=True, required=True, metavar="CATEGORY:AMOUNT[:SKU[:QUANTITY]]",
              help="A line of the purchase, e.g. shoes:999.00 or tops:299:TOP-0001:2 (repeat for more lines).")
@click.option("--member", "member_id", help="Take the member's tier, balance, segments and campaign points so far "
              "from ClickHouse (then give neither --tier nor --balance).")
@click.option("--tier", help="The member's tier (default: the program's base tier).")
@click.option("--balance", type=int, help="The member's balance before the purchase (default: 0).")
@click.option("--paid-with", help="Payment method, for payment-method bonuses.")
@click.option("--partner", help="The coalition partner the purchase is made at.")
@click.option("--channel", type=click.Choice([channel.value for channel in Channel]), default=Channel.WEB.value,
              show_default=True, help="Where the purchase is made, for campaigns that target channels.")
@click.option("--store", help="The store the purchase is made in, for campaigns that target stores.")
@click.option("--at", type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
              help="Day or time of the purchase in the program's time zone, for campaign windows (default: now).")
@click.option("--program", "program_path", type=click.Path(dir_okay=False),
              help="Program file (default: the configured one, else the bundled demo program).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
def simulate(lines: tuple[str, ...], member_id: str | None, tier: str | None, balance: int | None,
             paid_with: str | None, partner: str | None, channel: str, store: str | None, at: datetime | None,
             program_path: str | None, as_json: bool) -> None:
    """Answer "what would this purchase earn this member?", campaigns included, without changing anything."""
    from processors.events import Purchase
    from processors.outputs import LedgerEntry
    from processors.simulate import member_in_tier
    from processors.simulate import simulate as simulate_purchase
    from processors.validation import problems
    from streams.records import as_record

    if member_id is not None and (tier is not None or balance is not None):
        raise click.UsageError("--member takes the tier and balance from ClickHouse: leave out --tier and --balance "
                               "(or --member, to simulate any member of a tier and balance)")
    settings = _settings()
    rules = _program_or_fail(program_path or settings.program_file)
    order = [_purchase_line(n, text, rules.currency) for n, text in enumerate(lines, 1)]
    tiers, base = [t.name for t in rules.tiers], rules.tiers[0].name
    now = datetime.now(UTC) if at is None else at.replace(tzinfo=ZoneInfo(rules.time_zone)).astimezone(UTC)
    if member_id is not None:
        member = _member_from_store(settings, rules, member_id, now)
        if member.tier not in tiers:  # the member's program has a tier the simulated one has not
            console.print(f"{member_id}'s tier {member.tier} is not a tier of {rules.name}: simulated at its base "
                          f"tier {base}")
            member.tier = base
    elif tier is not None and tier not in tiers:
        raise click.BadParameter(f"{tier!r} is not a tier of {rules.name}: one of {', '.join(tiers)}",
                                 param_hint="--tier")
    else:
        member = member_in_tier("someone", tier or base, balance or 0, now)
    tier, balance = member.tier, member.balance
    event = Purchase("simulated", member.member_id, now, "simulate", "simulated", Channel(channel), store,
                     rules.currency, sum(x.amount_minor for x in order), tuple(order), paid_with, partner)
    impossible = problems(event)
    if impossible:
        raise click.UsageError("; ".join(impossible))
    decision, assumed = simulate_purchase(member, event, rules)
    if decision.refusal is not None:
        raise click.ClickException(decision.refusal.reason)
    points = sum(o.points for o in decision.outputs if isinstance(o, LedgerEntry))
    if as_json:
        click.echo(json.dumps({"tier": tier, "balance_before": balance, "points": points, "assumed": list(assumed),
                               "outputs": [{"type": type(o).__name__, **as_record(o)} for o in decision.outputs]},
                              default=str, indent=2))
        return
    click.echo(f"{points:+,} points for {member_id or 'a member'} in tier {tier} (balance {balance:,} -> "
               f"{balance + points:,})")
    for output in decision.outputs:
        said = getattr(output, "detail", None) or getattr(output, "message", None)
        if said:
            click.echo(f"  {type(output).__name__}: {said}")
    for words in assumed:
        click.echo(f"  Assumed: {words}")


# An amount as people write it in a shop: digits, and a point with the decimals the currency has, if any.
_AMOUNT = re.compile(r"[0-9]+(?:\.([0-9]+))?")
_LARGEST = 2**63 - 1  # the contracts' long


def _purchase_line(n: int, text: str, currency: str) -> PurchaseLine:
    """A ``--line`` of ``simulate``; an error names the part that is wrong and what to write."""
    from decimal import Decimal

    from processors.events import PurchaseLine
    from processors.money import minor_digits

    def wrong(why: str) -> click.BadParameter:
        return click.BadParameter(f"{text!r}: {why}", param_hint="--line")

    parts = text.split(":")
    if not 2 <= len(parts) <= 4:
        raise wrong("write CATEGORY:AMOUNT[:SKU[:QUANTITY]], e.g. shoes:999.00 or tops:299:TOP-0001:2")
    category, written = parts[0], parts[1]
    if not category:
        raise wrong("the category is empty")
    digits = minor_digits(currency)
    plain = _AMOUNT.fullmatch(written)
    if plain is None or len(plain.group(1) or "") > digits or (plain.group(1) is not None and not digits):
        decimals, example = (f"at most {digits} decimals", "999." + "0" * digits) if digits else ("no decimals", "999")
        raise wrong(f"the amount {written!r} is not an amount in {currency}: write digits with {decimals}, e.g. "
                    f"{example}")
    amount = int(Decimal(written).scaleb(digits))
    if amount > _LARGEST:
        raise wrong(f"the amount {written!r} is more than a purchase can carry ({_LARGEST:,} minor units)")
    quantity_written = parts[3] if len(parts) == 4 else "1"
    if not quantity_written.isascii() or not quantity_written.isdigit() or int(quantity_written) < 1:
        raise wrong(f"the quantity {quantity_written!r} is not a whole number of at least 1")
    quantity = int(quantity_written)
    if quantity > _LARGEST:
        raise wrong(f"the quantity {quantity_written!r} is more than {_LARGEST:,}")
    sku = parts[2] if len(parts) >= 3 and parts[2] else category
    return PurchaseLine(str(n), sku, category, quantity, amount)


def _member_from_store(settings: Settings, rules: Program, member_id: str, now: datetime) -> MemberState:
    """The member as ClickHouse knows them: tier, balance, segments and what each campaign has given them."""
    from processors.simulate import given_by_campaign, member_in_tier

    found = _report(settings, "member", member_id=member_id)
    if found is None:
        raise click.ClickException(f"no member {member_id!r} in ClickHouse database {settings.clickhouse_database}")
    given = given_by_campaign(((e["entry_id"], e["reason"], e["points"]) for e in found["ledger"]), rules)
    return member_in_tier(member_id, found["member"]["tier"], found["member"]["balance"], now,
                          segments=found.get("segments", ()), campaign_points=given)


def _report(settings: Settings, name: str, program: Program | None = None, **arguments: object) -> Any:
    """The named report, for ``program`` (the configured one, read now, unless the caller has read it)."""
    from streams.reports import NoReport, report

    try:
        return report(settings, program or _program_or_fail(settings.program_file), name, **arguments)
    except NoReport as exc:
        raise click.ClickException(str(exc)) from exc


def _print_breakdown(rows: list[dict[str, Any]], by: str, currency: str, title: str) -> None:
    from processors.money import format_money, format_percent
    from streams.reports import signed

    table = Table(by.replace("_", " "), "members", "buyers", "repeat", "orders", "order value", "net per buyer",
                  "points outstanding", "NPS (answers)", title=title)
    for row in rows:
        nps = f"{signed(row['nps_bp'])} ({row['respondents']:,})" if row["respondents"] else "-"
        table.add_row(row["segment"], f"{row['members']:,}", f"{row['buyers']:,}",
                      format_percent(row["repeat_rate_bp"]), f"{row['orders']:,}",
                      format_money(row["aov_minor"], currency), format_money(row["value_per_buyer_minor"], currency),
                      f"{row['points_outstanding']:,}", nps)
    _print(table, whole=True)


def _print_table(figures: dict[str, str], title: str) -> None:
    table = Table("figure", "value", title=title)
    for name, value in figures.items():
        table.add_row(name, value)
    _print(table)


def _print(table: Table, whole: bool = False) -> None:
    """Print ``table`` to stdout; a ``whole`` one (a table of figures) at its full width, wider than the terminal,
    or than the 80 columns assumed when stdout is not one, if it must, rather than cut a figure ("299.…")."""
    out = Console()
    needed = Console(width=10_000).measure(table).maximum if whole else 0
    (Console(width=needed) if needed > out.width else out).print(table)


if __name__ == "__main__":
    sys.exit(main())
