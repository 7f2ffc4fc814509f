"""Gamification: challenges such as "three visits in a week" earn a badge and bonus points.

A visit is a purchase with qualifying spend (a gift card alone is none), as
for tiers by visits. When a member's visits within a challenge's
``within_days`` (ending with this one) reach its ``visits``, the member earns
the challenge's badge (a ``RewardIssued``), its bonus points (a ledger entry)
and a ``badge_earned`` trigger, once per challenge. The bonus is not part of
any order, so a later return leaves it. Leaderboards are queries over the
ledger in ClickHouse (``sinks.queries.leaderboard``).
"""

from __future__ import annotations

from datetime import timedelta

from processors.compiled import CompiledProgram
from processors.events import Purchase
from processors.money import format_points
from processors.outputs import LedgerReason, Output, RewardIssued, Trigger
from processors.points import credit
from processors.state import MemberState


def count_visit(state: MemberState, event: Purchase, rules: CompiledProgram) -> list[Output]:
    """Record the visit; the badges, bonuses and triggers of challenges it completes."""
    when = event.occurred_at
    visits = [at for at in state.visits if at > when - rules.visits_window]
    visits.append(when)
    state.visits = visits
    outputs: list[Output] = []
    for challenge in rules.challenges:
        if challenge.id in state.badges:
            continue
        since = when - timedelta(days=challenge.within_days)
        if sum(1 for at in visits if since < at <= when) < challenge.visits:
            continue
        state.badges[challenge.id] = when
        event_id, member_id = event.event_id, event.member_id
        detail = f"Challenge {challenge.name} done: badge {challenge.badge}"
        outputs.append(RewardIssued(f"{event_id}:badge:{challenge.id}", member_id, event_id, when, challenge.badge,
                                    challenge.bonus_points, detail))
        if challenge.bonus_points:
            outputs.append(credit(state, event, rules, LedgerReason.CHALLENGE, challenge.bonus_points,
                                  f"{detail} and {format_points(challenge.bonus_points)}",
                                  suffix=f"challenge:{challenge.id}"))
        outputs.append(Trigger(f"{event_id}:badge_earned:{challenge.id}", member_id, event_id, when, "badge_earned",
                               f"You did it: {challenge.name}! Badge {challenge.badge} is yours.",
                               {"challenge": challenge.id, "badge": challenge.badge}))
    return outputs
