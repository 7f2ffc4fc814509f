"""The example programs through the real broker, Faust worker and chDB: the ledger in ClickHouse is exact."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from sinks import queries
from sinks.clickhouse import ClickHouseStore
from streams.clock_ticks import enrolled_members, tick_events
from streams.demo import produce, wait_stored
from streams.processes import engine_processes
from streams.program_file import parse_program
from streams.topics import ENGINE_EVENTS, EVENTS

from .harness import engine
from .test_purchase_to_clickhouse import T0, enrol, event

EXAMPLES = Path(__file__).parents[2] / "examples"


Feed = list[tuple[bytes, dict[str, Any] | bytes]]


@contextlib.contextmanager
def fed(tmp_path: Path, chdb_client: Any, ch_database: str, program: str, feed: Feed,
        outcomes: int | None = None, members: Feed = ()) -> Iterator[tuple[Any, Any]]:
    """A running engine on ``program`` that has stored the outcomes of ``members`` and then of ``feed``
    (``outcomes`` of the feed's if given).

    Enrolments go first, as ``members``, when the feed's other events come from other sources: those are
    other partitions, which the engine may read first.
    """
    with (engine(tmp_path, chdb_client, ch_database, program=program) as e,
          engine_processes(e.settings, e.bootstrap) as running):
        if members:
            send(e, running, members, len(members))
        send(e, running, feed, len(members) + (len(feed) if outcomes is None else outcomes))
        yield e, running


def send(e: Any, running: Any, feed: Feed, outcomes: int, topic: str = EVENTS) -> None:
    """Produce ``feed`` to ``topic`` and wait until ``outcomes`` input events in all are stored."""
    produce(e.bootstrap, e.codec, feed, lambda n: None, topic)
    wait_stored(e.store, outcomes, e.sink, running, 120, lambda n: None)


def ledger_of(store: ClickHouseStore, member_id: str, entries: int, timeout: float = 90) -> list[dict[str, Any]]:
    """The member's ledger once it has ``entries`` rows: each output topic reaches the sink in its own time.

    One run of the feed test in sixty took 40 s instead of 13, for a reason not caught: wait well past that."""
    deadline = time.monotonic() + timeout
    while len(found := queries.member_ledger(store, member_id)) < entries and time.monotonic() < deadline:
        time.sleep(0.1)
    return found


def triggers_of(store: ClickHouseStore, member_id: str, kind: str, count: int, timeout: float = 30,
                ) -> list[dict[str, Any]]:
    """The member's triggers of ``kind``, once there are ``count``: they come on their own topic, in their own time."""
    deadline = time.monotonic() + timeout
    while True:
        found = store.rows("SELECT attributes FROM $db.triggers FINAL WHERE member_id = {member:String} "
                           "AND kind = {kind:String} ORDER BY occurred_at, trigger_id",
                           {"member": member_id, "kind": kind})
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def bought(order_id: str, category: str, amount_minor: int, quantity: int = 1, sku: str = "SKU-1",
           paid_with: str = "card", partner: str | None = None, points_used: int = 0, channel: str = "pos",
           ) -> tuple[str, dict[str, Any]]:
    return ("Purchase", {
        "order_id": order_id, "channel": channel, "store_id": "store-1", "currency": "SEK",
        "total_minor": amount_minor, "payment_method": paid_with, "partner_id": partner, "points_used": points_used,
        "lines": [{"line_id": "1", "sku": sku, "category": category, "quantity": quantity,
                   "amount_minor": amount_minor}],
    })


def program_text(example: str, **changes: Any) -> str:
    """An example program with some sections changed."""
    rules = yaml.safe_load((EXAMPLES / f"{example}.yaml").read_text())
    rules.update(changes)
    return yaml.safe_dump(rules)


def shared(post_id: str, action: str = "share") -> tuple[str, dict[str, Any]]:
    return ("SocialShare", {"platform": "instagram", "action": action, "post_id": post_id})


def redeemed(redemption_id: str, reward: str) -> tuple[str, dict[str, Any]]:
    return ("Redemption", {"redemption_id": redemption_id, "reward": reward})


CAFE = [enrol()] + [bought(f"C{n}", "coffee", 3_500) for n in range(12)] + [
    redeemed("R1", "free_drink"), redeemed("R2", "free_drink")]  # 72 points: the second is refused
COALITION = [enrol(), bought("H1", "room", 240_000), bought("M1", "exhibition", 30_000, partner="moderna"),
             redeemed("T1", "museum_ticket"), redeemed("T2", "free_night")]  # too few points for a night
FASHION = [enrol(), bought("F1", "tops", 4_000), bought("F2", "dresses", 500_000),
           bought("F3", "shoes", 100_000, paid_with="nordic_style_card"), shared("look-1"),
           shared("look-1", "tag"), ("Donation", {"cause": "baltic_cleanup", "points": 95})]


# The rewards each member is told their points reach: the café's drink at 51 points; fashion's free shipping on
# the welcome points alone (its purchase points are still pending); the coalition's museum ticket after the stay.
@pytest.mark.parametrize(("example", "bodies", "ledger", "tier", "rewards", "refused", "owed", "unlocked"), [
    ("cafe", CAFE, [("welcome", 10), ("purchase", 3), ("purchase", 4), ("purchase", 3), ("challenge", 20)]
     + [("purchase", 4), ("purchase", 3)] * 4 + [("purchase", 4), ("redemption", -50)],  # the badge on visit 3
     "Member", ["free_coffee", "free_drink", "regular", "welcome_bonus"],
     ["A free drink of your choice needs 50 points"], {}, ["free_drink"]),
    ("fashion", FASHION, [("welcome", 100), ("purchase", 500), ("purchase", 375), ("social", 20),
                          ("donation", -95)], "Gold", ["welcome_bonus"], [], {}, ["free_shipping"]),
    ("coalition", COALITION, [("welcome", 200), ("purchase", 240), ("campaign", 100), ("purchase", 15),
                              ("redemption", -300)], "Guest",
     ["museum_ticket", "welcome_bonus"], ["A free night at the hotel needs 5,000 points"], {"moderna": 75 - 1500},
     ["museum_ticket"]),
])
def test_an_example_program_runs_end_to_end(tmp_path: Path, chdb_client: Any, ch_database: str, example: str,
                                           bodies: list[tuple[str, dict[str, Any]]], ledger: list[tuple[str, int]],
                                           tier: str, rewards: list[str], refused: list[str],
                                           owed: dict[str, int], unlocked: list[str]) -> None:
    feed: Feed = [
        (b"pos", event(f"{example}-{n}", n, body, member_id="M1")) for n, body in enumerate(bodies)]
    program = (EXAMPLES / f"{example}.yaml").read_text()
    with fed(tmp_path, chdb_client, ch_database, program, feed) as (e, _):
        entries = ledger_of(e.store, "M1", len(ledger))
        assert [(x["reason"], x["points"]) for x in entries] == ledger
        summary = queries.member_summary(e.store, "M1", parse_program(program, example).tiers[0].name)
        assert summary is not None and summary["tier"] == tier
        assert summary["balance"] == sum(points for _, points in ledger)
        issued = e.store.rows("SELECT reward FROM $db.rewards FINAL WHERE member_id = 'M1' ORDER BY reward")
        assert [x["reward"] for x in issued] == rewards
        letters = e.store.rows("SELECT reason FROM $db.dead_letters FINAL ORDER BY reason")
        assert len(letters) == len(refused)
        assert all(words in letter["reason"] for words, letter in zip(refused, letters, strict=True))
        donated = e.store.rows("SELECT cause, -sum(points) AS points FROM $db.ledger FINAL "
                               "WHERE reason = 'donation' GROUP BY cause")
        assert donated == ([{"cause": "baltic_cleanup", "points": 95}] if example == "fashion" else [])
        balances = e.store.rows("SELECT partner_id, owed_minor FROM $db.partner_balances ORDER BY partner_id")
        assert {x["partner_id"]: x["owed_minor"] for x in balances} == owed
        told = triggers_of(e.store, "M1", "reward_unlocked", len(unlocked))
        assert [x["attributes"]["reward"] for x in told] == unlocked


def test_a_referral_rewards_both_a_return_hands_it_on_to_a_later_purchase_and_another_takes_both_back(
        tmp_path: Path, chdb_client: Any, ch_database: str) -> None:
    referred = ("MemberEnrolled", {"channel": "app", "birthday": None, "referred_by": "RITA"})
    members: Feed = [
        (b"app", event("rita-joins", 0, enrol(), member_id="RITA")),
        (b"app", event("fred-joins", 1, referred, member_id="FRED")),
    ]
    day = 24 * 60
    feed: Feed = [
        (b"pos", event("fred-buys", 2, bought("F1", "tops", 50_000), member_id="FRED")),
        (b"pos", event("fred-buys-again", 3, bought("F2", "tops", 20_000), member_id="FRED")),  # under the minimum
        (b"pos", event("fred-buys-later", 3 * day, bought("F3", "tops", 40_000), member_id="FRED")),  # qualifies
    ]
    program = (EXAMPLES / "fashion.yaml").read_text()
    with fed(tmp_path, chdb_client, ch_database, program, feed, members=members) as (e, running):
        rita = ledger_of(e.store, "RITA", 2)
        assert [(x["reason"], x["points"], x["balance_after"]) for x in rita] == [
            ("welcome", 100, 100), ("referral", 200, 300)]
        assert "for referring FRED" in rita[1]["detail"]
        fred = ledger_of(e.store, "FRED", 5)
        assert [(x["reason"], x["points"]) for x in fred] == [
            ("welcome", 100), ("purchase", 50), ("referral", 100), ("purchase", 20), ("purchase", 40)]

        def pending(member_id: str) -> dict[str, int]:
            """The member's points by the day they can be spent (fashion keeps them 14 days), all pending."""
            rows = e.store.rows("SELECT toString(toDate(available_at)) AS day, sum(points) AS points "
                                "FROM $db.ledger FINAL WHERE member_id = {m:String} AND available_at IS NOT NULL "
                                "GROUP BY day HAVING points != 0 ORDER BY day", {"m": member_id})
            return {x["day"]: x["points"] for x in rows}

        assert pending("FRED") == {"2026-12-07": 50 + 100 + 20, "2026-12-10": 40}
        assert pending("RITA") == {"2026-12-07": 200}

        # Fred returns the first purchase; the third qualifies too and carries the referral now: both rewards
        # wait on its return window, for him and, through the engine, for Rita.
        def returned(order_id: str) -> tuple[str, dict[str, Any]]:
            amount = {"F1": 50_000, "F3": 40_000}[order_id]
            return ("Return", {"order_id": order_id, "currency": "SEK", "refund_minor": amount,
                               "lines": [{"line_id": "1", "quantity": 1}]})

        send(e, running, [(b"pos", event("fred-returns", 4 * day, returned("F1"), member_id="FRED"))],
             len(members) + len(feed) + 1)
        moved = ledger_of(e.store, "FRED", 8)[5:]
        assert [(x["reason"], x["points"], x["balance_after"]) for x in moved] == [
            ("return", -50, 260), ("pending_moved", 100, 360), ("pending_moved", -100, 260)]
        assert "order F3, bought since, counts instead" in moved[1]["detail"]
        rita = ledger_of(e.store, "RITA", 4)
        assert [(x["reason"], x["points"], x["balance_after"]) for x in rita[2:]] == [
            ("pending_moved", 200, 500), ("pending_moved", -200, 300)]
        assert pending("FRED") == {"2026-12-07": 20, "2026-12-10": 40 + 100}
        assert pending("RITA") == {"2026-12-10": 200}
        summary = queries.member_summary(e.store, "FRED", "Member")
        assert summary is not None and summary["lifetime_points"] == 100 + 50 + 100 + 20 + 40

        # Fred returns the third purchase too, and no other qualifies: the referral no longer counts, for him or
        # for Rita.
        send(e, running, [(b"pos", event("fred-returns-again", 5 * day, returned("F3"), member_id="FRED"))],
             len(members) + len(feed) + 2)
        assert [(x["reason"], x["points"]) for x in ledger_of(e.store, "FRED", 10)[8:]] == [
            ("return", -40), ("referral", -100)]
        rita = ledger_of(e.store, "RITA", 5)
        assert [(x["reason"], x["points"], x["balance_after"]) for x in rita[4:]] == [("referral", -200, 100)]
        assert "FRED returned order F3" in rita[4]["detail"]
        assert pending("FRED") == {"2026-12-07": 20} and pending("RITA") == {}


def test_clock_ticks_pay_birthdays_through_the_engine(tmp_path: Path, chdb_client: Any, ch_database: str) -> None:
    born = ("MemberEnrolled", {"channel": "app", "birthday": "11-23", "referred_by": None})
    feed: Feed = [(b"app", event("bea-joins", 0, born, member_id="BEA")),
                                                        (b"app", event("al-joins", 0, enrol(), member_id="AL"))]
    program = (EXAMPLES / "fashion.yaml").read_text()
    with fed(tmp_path, chdb_client, ch_database, program, feed) as (e, running):
        ticks = tick_events(enrolled_members(e.store), T0 + timedelta(hours=1))
        send(e, running, ticks + ticks, len(feed) + 2, ENGINE_EVENTS)  # a day's ticks sent twice count once

        bea = ledger_of(e.store, "BEA", 2)
        assert [(x["reason"], x["points"]) for x in bea] == [("welcome", 100), ("birthday", 100)]
        assert [(x["reason"], x["points"]) for x in ledger_of(e.store, "AL", 1)] == [("welcome", 100)]


def test_points_paid_with_refunded_pending_and_expired_by_age(tmp_path: Path, chdb_client: Any,
                                                              ch_database: str) -> None:
    two_years = 731 * 24 * 60
    returned = ("Return", {"order_id": "H1", "currency": "SEK", "refund_minor": 240_000,
                           "lines": [{"line_id": "1", "quantity": 1}]})
    feed: Feed = [
        (b"pos", event(f"guest-{n}", minutes, body, member_id="M1")) for n, (minutes, body) in enumerate([
            (0, enrol()), (1, bought("H1", "room", 240_000, points_used=150)), (2, bought("H2", "room", 10_000)),
            (3, returned)])]
    program = program_text("coalition", campaigns=[], pending_days=14)  # the campaign's award would race the return
    with fed(tmp_path, chdb_client, ch_database, program, feed) as (e, running):
        # A tick from a feed, dated two years ahead, would expire every balance: only the engine's own are taken.
        send(e, running, [(b"pos", event("forged-tick", two_years, ("ClockTick", {}), member_id="M1"))], 5)
        letters = e.store.rows("SELECT event_id, topic, reason FROM $db.dead_letters FINAL")
        assert [(x["event_id"], x["topic"]) for x in letters] == [("forged-tick", EVENTS)]
        assert letters[0]["reason"].startswith(f"ClockTick events are made by the engine itself and are accepted "
                                               f"only from {ENGINE_EVENTS}")
        send(e, running, [(b"scheduler", event("tick", two_years, ("ClockTick", {}), member_id="M1"))], 6,
             ENGINE_EVENTS)
        entries = ledger_of(e.store, "M1", 7)
        assert [(x["reason"], x["points"], x["balance_after"]) for x in entries] == [
            ("welcome", 200, 200), ("points_payment", -150, 50), ("purchase", 240, 290), ("purchase", 10, 300),
            ("points_refund", 150, 450), ("return", -240, 210), ("expiry", -210, 0)]
        pending = e.store.rows("SELECT toString(reason) AS reason, available_at FROM $db.ledger FINAL "
                               "WHERE available_at IS NOT NULL ORDER BY entry_id")
        assert [(x["reason"], x["available_at"] - T0) for x in pending] == [
            ("purchase", timedelta(days=14, minutes=1)), ("purchase", timedelta(days=14, minutes=2)),
            ("return", timedelta(days=14, minutes=1))]


def test_a_paid_membership_an_assigned_tier_and_a_campaign_reach_clickhouse(tmp_path: Path, chdb_client: Any,
                                                                ch_database: str) -> None:
    def fee(minor: int) -> tuple[str, dict[str, Any]]:
        return ("MembershipPaid", {"membership": "style_plus", "fee_minor": minor, "currency": "SEK"})

    # PAM is not in the example's 5 % holdout (processors.holdout), which gets no campaign points.
    members: Feed = [  # first: the web order is on another partition, which the engine may read first
        (b"app", event("pam-joins", 0, enrol(), member_id="PAM")),
        (b"app", event("pam-pays", 1, fee(49_900), member_id="PAM")),
        (b"app", event("pam-pays-too-little", 2, fee(100), member_id="PAM")),
    ]
    feed: Feed = [
        (b"web", event("pam-black-friday", 4 * 24 * 60, bought("W1", "tops", 100_000, channel="web"),
                       member_id="PAM")),  # on 2026-11-27, a Gold member's web order: double points
        (b"crm", event("ola-joins", 0, enrol(), member_id="OLA")),
        (b"crm", event("ola-vip", 1, ("TierAssigned", {"tier": "Platinum", "until": None, "note": "press"}),
                       member_id="OLA")),
        (b"crm", event("ola-segments", 2, ("MemberSegments", {"segments": ["press", "stockholm"]}),
                       member_id="OLA")),
    ]
    program = (EXAMPLES / "fashion.yaml").read_text()
    with fed(tmp_path, chdb_client, ch_database, program, feed, len(feed) - 1, members) as (e, _):
        changes = e.store.rows("SELECT member_id, from_tier, to_tier, reason FROM $db.tier_changes FINAL "
                               "ORDER BY member_id")
        assert [(x["member_id"], x["from_tier"], x["to_tier"]) for x in changes] == [
            ("OLA", "Silver", "Platinum"), ("PAM", "Silver", "Gold")]
        assert changes[0]["reason"] == "assigned: press"
        assert changes[1]["reason"].startswith("Style Plus membership until ")
        activity = e.store.rows("SELECT member_id, amount_minor FROM $db.activity FINAL "
                                "WHERE event_type IN ('membership_fee', 'segments') ORDER BY member_id")
        assert activity == [{"member_id": "OLA", "amount_minor": 0}, {"member_id": "PAM", "amount_minor": 49_900}]
        letters = e.store.rows("SELECT reason FROM $db.dead_letters FINAL")
        assert [x["reason"] for x in letters] == [
            "Style Plus costs 499.00 SEK, but 1.00 SEK was paid: send the membership's fee in the program's currency"]
        assert [(x["reason"], x["points"]) for x in ledger_of(e.store, "PAM", 3)] == [
            ("welcome", 100), ("purchase", 125), ("campaign", 125)]


def test_a_campaigns_total_budget_is_shared_through_its_own_key(tmp_path: Path, chdb_client: Any,
                                                               ch_database: str) -> None:
    rules = yaml.safe_load((EXAMPLES / "coalition.yaml").read_text())
    rules["campaigns"][0]["budget_points"] = 150
    feed: Feed = [
        (b"pos", event(f"{who}-{n}", n, body, member_id=who)) for who in ("ANN", "BOB")
        for n, body in enumerate([enrol(), bought(f"{who}-H1", "room", 120_000)])]
    with fed(tmp_path, chdb_client, ch_database, yaml.safe_dump(rules), feed) as (e, running):
        awards = {who: x["points"] for who in ("ANN", "BOB") for x in ledger_of(e.store, who, 3)
                  if x["reason"] == "campaign"}
        assert sorted(awards.values()) == [50, 100]  # whichever claim came first got the full bonus, the other the rest
        deadline = time.monotonic() + 30  # the triggers come on their own topic, in their own time
        while len(told := e.store.rows("SELECT member_id FROM $db.triggers FINAL "
                                       "WHERE kind = 'campaign_budget_spent' ORDER BY member_id")) < 2:
            assert time.monotonic() < deadline, told
            time.sleep(0.1)
        assert len(told) == 2 and told[1]["member_id"] == "campaign:culture_winter"

        # The member with the full bonus returns the stay: the budget has those 100 points again, for Carol.
        first = next(who for who, points in awards.items() if points == 100)
        returned = ("Return", {"order_id": f"{first}-H1", "currency": "SEK", "refund_minor": 120_000,
                               "lines": [{"line_id": "1", "quantity": 1}]})
        send(e, running, [(b"pos", event(f"{first}-returns", 2, returned, member_id=first))], len(feed) + 1)
        assert [(x["reason"], x["points"]) for x in ledger_of(e.store, first, 5)[3:]] == [
            ("return", -120), ("campaign", -100)]
        carol = [(b"pos", event("CAROL-0", 3, enrol(), member_id="CAROL")),
                 (b"pos", event("CAROL-1", 4, bought("CAROL-H1", "room", 120_000), member_id="CAROL"))]
        send(e, running, carol, len(feed) + 3)
        assert [(x["reason"], x["points"]) for x in ledger_of(e.store, "CAROL", 3)] == [
            ("welcome", 200), ("purchase", 120), ("campaign", 100)]
