"""Simulate: "what would this purchase earn this member?", answered without changing anything.

The same ``decide`` the engine runs, on a copy of the member's state, so a
simulated answer can never differ from what the engine would do with the same
state, and the member's real state is left exactly as it was.
"""

from __future__ import annotations

import copy
from datetime import datetime

from processors.decide import decide
from processors.events import MemberEvent
from processors.outputs import Decision
from processors.program import Program
from processors.state import MemberState


def simulate(state: MemberState, event: MemberEvent, program: Program) -> Decision:
    """The decision ``event`` would get; ``state`` is not touched."""
    return decide(copy.deepcopy(state), event, program, event.occurred_at)


def member_in_tier(member_id: str, tier: str, balance: int, since: datetime) -> MemberState:
    """A member known only by tier and balance (what the analytics store holds), with no history."""
    return MemberState(member_id=member_id, enrolled_at=since, tier=tier, balance=balance, lifetime_points=balance,
                       spend_by_month={}, seen_events={}, orders={}, last_activity_at=since,
                       near_tier_notified=None)
