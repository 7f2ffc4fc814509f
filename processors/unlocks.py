"""The ``reward_unlocked`` trigger: a member's spendable points now reach a catalogue reward they did not before.

"You have 120 points to spend: enough for A free drink of your choice (50 points)." It is sent once for each
reward whose cost the spendable points climb to or past, whatever event lifted them; spending, a return or expiry
that takes them back under a cost makes that reward due again the next time they climb. Pending points count
from the day they can be spent, which the daily clock tick notices. Nothing is redeemed: the trigger is for the
systems that tell the member.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable

from processors.compiled import CompiledProgram
from processors.events import ClockTick, MemberEvent
from processors.money import format_points
from processors.outputs import LedgerEntry, Output, Trigger
from processors.points import spendable
from processors.state import MemberState


def reward_unlocks(state: MemberState, event: MemberEvent, outputs: Iterable[Output],
                   rules: CompiledProgram) -> list[Trigger]:
    """A trigger for each reward the member's spendable points reach after ``event`` (which emitted ``outputs``)
    and did not when last looked at."""
    costs = rules.reward_costs
    if not costs or (state.balance < costs[0] and not state.unlocked_points):  # nothing within reach, as before
        return []
    if rules.pending and type(event) is not ClockTick:
        # Where points can be pending, only time, points spendable at once and points taken change what a member
        # can spend: working it out goes through every order still pending, too dear for every purchase. (A loop,
        # not any() over a generator: this runs on every event.)
        for output in outputs:
            if type(output) is LedgerEntry and (output.points < 0 or output.available_at is None):
                break
        else:
            return []
    has = spendable(state, event.occurred_at, rules)
    reached = costs[bisect_right(costs, has) - 1] if has >= costs[0] else 0
    before, state.unlocked_points = state.unlocked_points, reached
    if reached <= before:
        return []
    event_id, member_id = event.event_id, event.member_id
    return [Trigger(f"{event_id}:reward_unlocked:{reward.id}", member_id, event_id, event.occurred_at,
                    "reward_unlocked",
                    f"You have {format_points(has)} to spend: enough for {reward.name} "
                    f"({format_points(reward.points)}).",
                    {"reward": reward.id, "points": str(reward.points), "spendable": str(has)})
            for reward in rules.rewards.values() if before < reward.points <= reached]
