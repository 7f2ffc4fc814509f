"""A program's time zone: days, months and years are counted where its members live, not in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from builders import Member, club, enrolled, kr, line
from pydantic import ValidationError

from processors.compiled import compiled
from processors.events import ClockTick, MemberEnrolled, MemberErased, MembershipPaid
from processors.explain import explain
from processors.outputs import LedgerReason
from processors.program import Campaign, Expiry, Membership, SocialPoints, TierPolicy

STOCKHOLM = "Europe/Stockholm"
NEW_YORK = "America/New_York"


def tick(someone: Member, at: datetime) -> None:
    someone.now = at
    someone.apply(ClockTick(f"tick:{someone.member_id}:{at.isoformat()}", someone.member_id, at, "scheduler"))


def test_a_purchase_just_after_midnight_on_new_years_day_in_stockholm_earns_points_of_the_new_year() -> None:
    at_year_end = Expiry(at="year_end", warn_days=0)
    bought = datetime(2025, 12, 31, 23, 30, tzinfo=UTC)  # 00:30 on 1 January 2026 in Stockholm

    expire_by = {zone: compiled(club(expiry=at_year_end, time_zone=zone)).expires_on(bought)
                 for zone in ("UTC", STOCKHOLM)}

    assert expire_by == {"UTC": "2026-01-01", STOCKHOLM: "2027-01-01"}


def test_points_expiring_at_year_end_in_stockholm_go_as_the_year_ends_there() -> None:
    anna = Member(club(expiry=Expiry(at="year_end", warn_days=2), welcome_bonus_points=0, time_zone=STOCKHOLM),
                  "anna", datetime(2025, 6, 1, 9, tzinfo=UTC))
    anna.enrol()
    anna.buy(line(kr(1_000)))  # 100 points of 2025

    tick(anna, datetime(2025, 12, 30, 3, tzinfo=UTC))
    warned = anna.triggers[-1]
    tick(anna, datetime(2025, 12, 31, 22, 30, tzinfo=UTC))  # 23:30 in Stockholm: still 2025
    kept = anna.balance
    tick(anna, datetime(2025, 12, 31, 23, 30, tzinfo=UTC))  # 00:30 on 1 January there

    assert (warned.kind, warned.attributes["expires_at"]) == ("points_expiring", "2025-12-31T23:00:00+00:00")
    assert kept == 100 and anna.balance == 0
    assert anna.ledger[-1].reason is LedgerReason.EXPIRY


def test_a_birthday_in_new_york_is_paid_on_the_day_there() -> None:
    bea = Member(club(birthday_bonus_points=50, time_zone=NEW_YORK), "bea", datetime(2026, 1, 5, 15, tzinfo=UTC))
    bea.apply(MemberEnrolled("enrol-bea", "bea", bea.now, "app", "app", "03-15", None))  # type: ignore[arg-type]

    tick(bea, datetime(2026, 3, 15, 3, tzinfo=UTC))  # 23:00 on 14 March in New York
    before = bea.balance
    tick(bea, datetime(2026, 3, 16, 3, tzinfo=UTC))  # 23:00 on 15 March there: the birthday

    assert before == 100 and bea.balance == 150
    assert [e.reason for e in bea.ledger][-1] is LedgerReason.BIRTHDAY


def test_spend_counts_in_the_month_of_the_programs_time_zone() -> None:
    bought = datetime(2026, 1, 31, 23, 30, tzinfo=UTC)  # 00:30 on 1 February in Stockholm

    assert compiled(club()).month_window(bought)[0] == "2026-01"
    assert compiled(club(time_zone=STOCKHOLM)).month_window(bought)[0] == "2026-02"


def test_a_daily_social_cap_counts_the_day_of_the_programs_time_zone() -> None:
    social = SocialPoints(points={"instagram": {"share": 30}}, daily_cap_points=40)
    late_evening = datetime(2026, 5, 1, 21, 30, tzinfo=UTC)  # 23:30 on 1 May in Stockholm
    after_midnight = datetime(2026, 5, 1, 22, 30, tzinfo=UTC)  # 00:30 on 2 May there
    hour = timedelta(hours=1)  # each share is made an hour after the member's clock

    def social_points(zone: str) -> list[int]:
        cem = Member(club(social=social, time_zone=zone), "cem", datetime(2026, 5, 1, 8, tzinfo=UTC))
        cem.enrol()
        for at, post in ((late_evening, "p1"), (after_midnight, "p2")):
            cem.now = at - hour
            cem.share(post)
        return [e.points for e in cem.ledger if e.reason is LedgerReason.SOCIAL]

    assert social_points("UTC") == [30, 10]  # one UTC day: capped at 40
    assert social_points(STOCKHOLM) == [30, 30]  # two days in Stockholm


def test_a_monthly_membership_bought_after_midnight_there_runs_to_the_same_day_next_month_there() -> None:
    plus = Membership(id="plus", name="Plus", fee_minor=kr(99), tier="Gold", months=1)
    tiers = (TierPolicy(name="Member"), TierPolicy(name="Gold", qualifying_spend_minor=kr(10_000)))
    dan = Member(club(memberships=(plus,), tiers=tiers, time_zone=STOCKHOLM), "dan",
                 datetime(2026, 1, 10, 9, tzinfo=UTC))
    dan.enrol()
    paid_at = datetime(2026, 1, 31, 23, 30, tzinfo=UTC)  # 00:30 on 1 February in Stockholm

    dan.apply(MembershipPaid("fee-1", "dan", paid_at, "app", "plus", kr(99), "SEK"))

    assert dan.state is not None
    assert dan.state.tier_floor_until == datetime(2026, 2, 28, 23, 30, tzinfo=UTC)  # 00:30 on 1 March there
    assert dan.triggers[-1].message == "Plus: you are Gold until 2026-03-01."


def test_a_time_zone_must_be_one_the_world_knows_and_a_member_is_told_it() -> None:
    for wrong in ("Europe/Stokholm", "Europe", "America/Argentina", "localtime", "posix/Europe/Stockholm"):
        with pytest.raises(ValidationError, match=f"'{wrong}' is not a time zone: write an IANA name"):
            club(time_zone=wrong)  # a region's folder, or the host's own zone, which differs from host to host

    assert explain(club(time_zone=STOCKHOLM))[-1] == "Days, months and years are counted in Europe/Stockholm time."
    assert "counted in" not in explain(club())[-1]


def test_refusals_name_the_day_of_the_enrolment_or_erasure_there() -> None:
    new_year = datetime(2025, 12, 31, 23, 30, tzinfo=UTC)  # 00:30 on 1 January 2026 in Stockholm
    anna = Member(club(time_zone=STOCKHOLM), "anna", new_year)
    anna.apply(enrolled("anna", new_year))

    again = anna.apply(enrolled("anna", datetime(2026, 1, 5, 12, tzinfo=UTC))).refusal
    anna.apply(MemberErased("erase-anna", "anna", new_year + timedelta(days=365), "app", "asked to be forgotten"))
    after = anna.apply(enrolled("anna", datetime(2027, 1, 5, 12, tzinfo=UTC))).refusal

    assert again is not None and "already enrolled (on 2026-01-01)" in again.reason
    assert after is not None and "was erased on 2027-01-01" in after.reason


def test_explain_gives_a_campaigns_window_as_the_programs_members_count_time() -> None:
    cet = timezone(timedelta(hours=1))
    black_friday = Campaign(id="bf", name="Black Friday", starts=datetime(2026, 11, 27, tzinfo=cet),
                            ends=datetime(2026, 11, 30, 23, tzinfo=UTC), multiplier_bp=20_000)

    in_stockholm = explain(club(time_zone=STOCKHOLM, campaigns=(black_friday,)))
    in_utc = explain(club(campaigns=(black_friday,)))

    assert "from 2026-11-27 00:00 until 2026-12-01 00:00 Europe/Stockholm time" in " ".join(in_stockholm)
    assert "from 2026-11-26 23:00 until 2026-11-30 23:00 UTC" in " ".join(in_utc)
