"""Simulating a purchase answers what it would earn and changes nothing."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

from builders import Member, club, kr, line, points_earned, purchase

from processors.program import Campaign, CampaignTarget
from processors.simulate import member_in_tier, simulate

WINTER = Campaign(id="winter", name="Winter", starts=datetime(2024, 1, 1, tzinfo=UTC),
                  ends=datetime(2025, 1, 1, tzinfo=UTC), bonus_points=100, minimum_spend_minor=kr(1_000),
                  budget_points=50_000)
VIP = Campaign(id="vip", name="VIP", starts=datetime(2024, 1, 1, tzinfo=UTC), ends=datetime(2025, 1, 1, tzinfo=UTC),
               bonus_points=50, member_budget_points=80, target=CampaignTarget(segments=frozenset({"vip"})))


def test_a_simulated_purchase_earns_what_the_real_one_will_and_changes_nothing(anna: Member) -> None:
    anna.reach("Silver")
    state_before = copy.deepcopy(anna.state)
    assert anna.state is not None
    order = purchase("anna", line(kr(1_000), "shoes"), at=anna.later())

    simulated = simulate(anna.state, order, anna.program).decision

    assert anna.state == state_before
    assert points_earned(simulated) == points_earned(anna.apply(order)) == 125


def test_a_member_known_by_tier_and_balance_earns_at_the_tiers_rate() -> None:
    program = club()
    gold = member_in_tier("m1", "Gold", 300, purchase("m1", line(1)).occurred_at)

    decision = simulate(gold, purchase("m1", line(kr(100))), program).decision

    assert points_earned(decision) == 15
    assert gold.balance == 300


def test_loyalty_simulate_prints_the_points_and_how_they_were_worked_out() -> None:
    from click.testing import CliRunner

    from streams.cli import main

    runner = CliRunner()
    answer = runner.invoke(main, ["simulate", "--tier", "Gold", "--line", "shoes:1000", "--line", "tops:299.50:T-1:2",
                                  "--paid-with", "nordic_style_card"])
    wrong = runner.invoke(main, ["simulate", "--line", "shoes:10.001"])

    assert answer.exit_code == 0, answer.output
    assert answer.output.startswith("+449 points for a member in tier Gold (balance 0 -> 449)")
    assert "Gold x1.25, paid with nordic_style_card x2, shoes x1.5 = 449 points" in answer.output
    assert wrong.exit_code == 2 and "'shoes:10.001': the amount '10.001' is not an amount in SEK" in wrong.output


def test_a_campaign_with_a_total_budget_is_in_the_answer_assumed_to_have_points_left() -> None:
    program = club(campaigns=(WINTER,))
    member = member_in_tier("m1", "Member", 0, datetime(2024, 1, 1, tzinfo=UTC))
    stay = purchase("m1", line(kr(2_000), "rooms"), at=datetime(2024, 12, 1, tzinfo=UTC))

    answer = simulate(member, stay, program)

    assert points_earned(answer.decision) == 200 + 100  # 1 per 10 kr, and the bonus the budget would grant
    assert answer.assumed == ("Winter has a total budget of 50,000 points: assumed to have 100 points left",)
    assert member.balance == 0 and member.campaign_points == {}


def test_a_member_known_with_segments_and_campaign_history_gets_what_is_left_of_a_per_member_cap() -> None:
    program = club(campaigns=(VIP,))
    at = datetime(2024, 6, 1, tzinfo=UTC)
    order = purchase("m1", line(kr(100)), at=at)

    outsider = simulate(member_in_tier("m1", "Member", 0, at), order, program)
    vip = simulate(member_in_tier("m1", "Member", 0, at, segments=["vip"], campaign_points={"vip": 50}), order,
                   program)

    assert points_earned(outsider.decision) == 10  # not in the campaign's segment
    assert points_earned(vip.decision) == 10 + 30  # 50 of the 80 a member can have were given already
    assert vip.assumed == ()


def test_loyalty_simulate_answers_for_a_day_channel_and_store_so_campaign_windows_and_targets_count() -> None:
    from click.testing import CliRunner

    from streams.cli import main

    def points(*options: str) -> int:
        answer = CliRunner().invoke(main, ["simulate", "--tier", "Gold", "--line", "shoes:1000", "--json", *options])
        assert answer.exit_code == 0, answer.output
        return int(json.loads(answer.stdout)["points"])

    # The bundled program's Black Friday doubles Gold members' web orders from 27 November to 1 December 2026.
    on_black_friday = points("--at", "2026-11-28T10:00:00")
    assert on_black_friday == 2 * points("--at", "2026-12-05")
    assert points("--at", "2026-11-30T23:30:00") == on_black_friday  # Stockholm time, the program's: still on
    assert points("--at", "2026-11-28", "--channel", "pos", "--store", "STO-1") == points("--at", "2026-12-05")
    refused = CliRunner().invoke(main, ["simulate", "--line", "shoes:1000", "--at", "1969-12-31"])
    assert refused.exit_code == 2 and "before 1970-01-01" in refused.output


def test_loyalty_simulate_reads_an_amount_as_plain_decimals_and_names_the_part_that_is_wrong() -> None:
    from click.testing import CliRunner

    from streams.cli import main

    def said(line: str) -> str:
        answer = CliRunner().invoke(main, ["simulate", "--line", line])
        assert answer.exit_code == 2, answer.output
        return " ".join(answer.output.split())

    for amount in ("inf", "nan", "1e400", "1e3", "-5", "1,000", "10.001", ".5", "", "0x10"):
        assert (f"'shoes:{amount}:': the amount {amount!r} is not an amount in SEK: write digits with at most 2 "
                "decimals, e.g. 999.00") in said(f"shoes:{amount}:"), amount
    assert "'shoes:100:SKU:0': the quantity '0' is not a whole number of at least 1" in said("shoes:100:SKU:0")
    assert "'shoes:100:SKU:1.5': the quantity '1.5' is not a whole number of at least 1" in said("shoes:100:SKU:1.5")
    assert "':100': the category is empty" in said(":100")
    assert "'shoes': write CATEGORY:AMOUNT[:SKU[:QUANTITY]], e.g. shoes:999.00" in said("shoes")
    assert "the amount '99999999999999999999' is more than" in said("shoes:99999999999999999999")
    fine = CliRunner().invoke(main, ["simulate", "--line", "shoes:1000.5", "--line", "tops:0.50::3", "--json"])
    assert fine.exit_code == 0, fine.output



def test_loyalty_simulate_takes_the_tier_and_balance_from_the_member_or_from_the_options_not_both() -> None:
    from click.testing import CliRunner

    from streams.cli import main

    for given in (["--tier", "Platinum"], ["--balance", "5000"], ["--balance", "0"]):
        answer = CliRunner().invoke(main, ["simulate", "--member", "olga", *given, "--line", "shoes:10"])
        assert answer.exit_code == 2, answer.output
        assert "--member takes the tier and balance from ClickHouse: leave out --tier and --balance" in " ".join(
            answer.output.split())
