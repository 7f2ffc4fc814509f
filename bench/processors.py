"""How many events a second ``decide`` applies on one core, with no I/O at all.

Builds a realistic mix in memory (every member enrols first, then mostly
purchases of 1-5 lines in time order, some returns of part of an earlier order,
a few card links, referrals and social shares), then times only ``decide``.

    python -m bench.processors [members] [events]    (or python bench/processors.py)

prints one line: ``processors: N events/s``.
"""

from __future__ import annotations

import gc
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

if __name__ == "__main__" and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    # Run as a script, this file's folder comes first on the path and this file
    # would hide the ``processors`` package it measures.
    sys.path.pop(0)

from processors.decide import decide
from processors.events import (
    CardLinked,
    Channel,
    MemberEnrolled,
    MemberEvent,
    Purchase,
    PurchaseLine,
    Referral,
    Return,
    ReturnedLine,
    SocialAction,
    SocialShare,
)
from processors.program import EarnRate, Program, TierPolicy
from processors.state import MemberState

CATEGORIES = ("groceries", "clothing", "shoes", "electronics", "beauty", "home", "gift_card")


def bench_program() -> Program:
    return Program(
        name="Bench Club",
        currency="SEK",
        earn=EarnRate(points=1, per_amount_minor=1_000),
        category_multipliers_bp={"shoes": 20_000, "beauty": 15_000},
        excluded_categories=frozenset({"gift_card"}),
        welcome_bonus_points=100,
        tiers=(
            TierPolicy(name="Member", qualifying_spend_minor=0),
            TierPolicy(name="Silver", qualifying_spend_minor=500_000, earn_multiplier_bp=12_500),
            TierPolicy(name="Gold", qualifying_spend_minor=2_000_000, earn_multiplier_bp=15_000),
        ),
    )


def synthetic_events(members: int = 5_000, events: int = 100_000, seed: int = 7) -> list[MemberEvent]:
    """``events`` events for ``members`` members: enrolments first, then a time-ordered mix."""
    rng = random.Random(seed)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    member_ids = [f"member-{i:06d}" for i in range(members)]
    out: list[MemberEvent] = [
        MemberEnrolled(f"enrol-{m}", m, start, "app", Channel.APP, "05-17", None) for m in member_ids
    ]
    orders: dict[str, list[Purchase]] = {}
    step = timedelta(days=180) / max(1, events - members)
    when = start
    for n in range(events - members):
        when += step
        member = rng.choice(member_ids)
        roll = rng.random()
        earlier = orders.get(member)
        if roll < 0.06 and earlier:
            order = rng.choice(earlier)
            line = rng.choice(order.lines)
            out.append(
                Return(
                    f"ret-{n}",
                    member,
                    when,
                    "webshop",
                    order.order_id,
                    "SEK",
                    line.amount_minor // line.quantity,
                    (ReturnedLine(line.line_id, 1),),
                )
            )
        elif roll < 0.08:
            out.append(
                CardLinked(f"card-{n}", member, when, "bank:nordea", f"tok_{rng.getrandbits(64):016x}")
            )
        elif roll < 0.09:
            out.append(Referral(f"ref-{n}", member, when, "app", f"code-{n}", None))
        elif roll < 0.10:
            out.append(
                SocialShare(f"share-{n}", member, when, "app", "instagram", SocialAction.SHARE, f"post-{n}")
            )
        else:
            lines = tuple(
                PurchaseLine(
                    f"l{i}",
                    f"sku-{rng.randrange(5_000)}",
                    rng.choice(CATEGORIES),
                    q,
                    q * rng.randrange(1_000, 60_000),
                )
                for i, q in enumerate(rng.choices((1, 1, 1, 2, 3), k=rng.randint(1, 5)))
            )
            purchase = Purchase(
                f"buy-{n}",
                member,
                when,
                "pos:store-12",
                f"order-{n}",
                Channel.POS,
                "store-12",
                "SEK",
                sum(line.amount_minor for line in lines),
                lines,
                "card",
            )
            orders.setdefault(member, []).append(purchase)
            out.append(purchase)
    return out


def processors_rate(events: list[MemberEvent], program: Program) -> float:
    """Events per second that ``decide`` applies to ``events`` in order, on one core, state in a dict.

    The prebuilt events are frozen out of the garbage collector first: a worker
    never holds 100,000 events at once, and the collections that ``decide``'s own
    allocations trigger should not rescan them.
    """
    states: dict[str, MemberState | None] = {}
    get = states.get
    gc.collect()
    gc.freeze()
    try:
        started = time.perf_counter()
        for event in events:
            states[event.member_id] = decide(get(event.member_id), event, program, event.occurred_at).state
        elapsed = time.perf_counter() - started
    finally:
        gc.unfreeze()
    return len(events) / elapsed


def main() -> None:
    members = int(sys.argv[1]) if len(sys.argv) > 1 else 5_000
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    program = bench_program()
    events = synthetic_events(members, count)
    rate = max(processors_rate(events, program) for _ in range(3))  # best of three, as timeit does
    print(f"processors: {rate:.0f} events/s")


if __name__ == "__main__":
    main()
