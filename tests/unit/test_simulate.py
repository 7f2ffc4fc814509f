"""Simulating a purchase answers what it would earn and changes nothing."""

from __future__ import annotations

import copy

from builders import Member, club, kr, line, points_earned, purchase

from processors.simulate import member_in_tier, simulate


def test_a_simulated_purchase_earns_what_the_real_one_will_and_changes_nothing(anna: Member) -> None:
    anna.reach("Silver")
    state_before = copy.deepcopy(anna.state)
    assert anna.state is not None
    order = purchase("anna", line(kr(1_000), "shoes"), at=anna.later())

    simulated = simulate(anna.state, order, anna.program)

    assert anna.state == state_before
    assert points_earned(simulated) == points_earned(anna.apply(order)) == 125


def test_a_member_known_by_tier_and_balance_earns_at_the_tiers_rate() -> None:
    program = club()
    gold = member_in_tier("m1", "Gold", 300, purchase("m1", line(1)).occurred_at)

    decision = simulate(gold, purchase("m1", line(kr(100))), program)

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
    assert answer.output.startswith("+449 points for a Gold member (balance 0 -> 449)")
    assert "Gold x1.25, paid with nordic_style_card x2, shoes x1.5 = 449 points" in answer.output
    assert wrong.exit_code == 2 and "'shoes:10.001': write CATEGORY:AMOUNT" in wrong.output
