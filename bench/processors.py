"""How many events a second ``decide`` applies on one core, with no I/O at all, against the floor.

Takes the demo's synthetic day (the member base, then mostly purchases of 1-5
lines, some returns, card transactions, referrals and social shares), runs it
through ingest in memory to get the typed events, then times only ``decide``
with the bundled demo program.

    python -m bench.processors [members] [events]

prints two lines:

    processors: N events/s          the rules
    processors floor: N events/s    only the objects applying a purchase must make, no rule deciding
                                    anything: what no rewrite of the rules in this Python can beat
"""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Callable

from processors.dates import epoch_ms
from processors.decide import decide
from processors.events import MemberEvent, Purchase
from processors.money import format_money, format_points
from processors.outputs import Activity, ActivityLine, LedgerEntry, LedgerReason
from processors.program import Program
from processors.state import CampaignBudget, LineRecord, MemberState, OrderRecord
from schemas.codec import AvroCodec
from schemas.registry import EmbeddedRegistry
from streams.demo_feed import synthetic_day
from streams.offline import member_events
from streams.program_file import load_program
from streams.runtime import tune_gc


def _rate(events: list[MemberEvent], apply: Callable[[list[MemberEvent]], None]) -> float:
    """Events per second that ``apply`` goes through ``events`` at, on one core.

    The collector is tuned as in the engine's processes, and the prebuilt events
    are frozen out of it: a worker never holds 100,000 events at once, and the
    collections that the applying's own allocations trigger should not rescan them.
    """
    thresholds = gc.get_threshold()
    gc.collect()
    tune_gc()
    try:
        started = time.perf_counter()
        apply(events)
        elapsed = time.perf_counter() - started
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
    return len(events) / elapsed


def processors_rate(events: list[MemberEvent], program: Program) -> float:
    """Events per second that ``decide`` applies to ``events`` in order, state in a dict."""
    def apply(events: list[MemberEvent]) -> None:
        states: dict[str, MemberState | CampaignBudget | None] = {}
        get = states.get
        for event in events:
            states[event.member_id] = decide(get(event.member_id), event, program, event.occurred_at).state

    return _rate(events, apply)


def floor_rate(events: list[MemberEvent], program: Program) -> float:
    """Events per second for making only what every applied purchase makes, whatever the program: its ledger
    entry with the reason in words, its activity row with a row per line, the order kept for returns, the event
    id remembered. One flat rate, no tier, campaign, stamp or trigger; other events cost nothing here.
    """
    divisor, currency = program.earn.per_amount_minor, program.currency

    def apply(events: list[MemberEvent]) -> None:
        orders: dict[str, dict[str, OrderRecord]] = {}
        seen: dict[str, dict[str, int]] = {}
        balances: dict[str, int] = {}
        for event in events:
            if type(event) is not Purchase:
                continue
            member_id, event_id = event.member_id, event.event_id
            line_points = [line.amount_minor // divisor for line in event.lines]
            points = sum(line_points)
            balance = balances[member_id] = balances.get(member_id, 0) + points
            LedgerEntry(f"{event_id}:purchase", member_id, event_id, event.occurred_at, LedgerReason.PURCHASE,
                        points, balance, event.order_id, None,
                        f"{format_money(event.total_minor, currency)} = {format_points(points)}")
            Activity(event_id, member_id, event.occurred_at, "purchase", event.channel, event.store_id, currency,
                     event.total_minor, points, event.order_id,
                     tuple([ActivityLine(line.line_id, line.sku, line.category, line.quantity, line.amount_minor,
                                         earned) for line, earned in zip(event.lines, line_points, strict=True)]))
            orders.setdefault(member_id, {})[event.order_id] = OrderRecord(
                event.occurred_at, {line.line_id: LineRecord(line.quantity, line.amount_minor, earned)
                                    for line, earned in zip(event.lines, line_points, strict=True)})
            seen.setdefault(member_id, {})[event_id] = epoch_ms(event.occurred_at)

    return _rate(events, apply)


def main() -> None:
    members = int(sys.argv[1]) if len(sys.argv) > 1 else 5_000
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    program = load_program(None)
    feed = synthetic_day(members, count)
    events = member_events(AvroCodec(EmbeddedRegistry()), feed.base + feed.day)
    for name, measure in (("processors", processors_rate), ("processors floor", floor_rate)):
        rate = max(measure(events, program) for _ in range(3))  # best of three, as timeit does
        print(f"{name}: {rate:.0f} events/s")


if __name__ == "__main__":
    main()
