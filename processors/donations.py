"""Value-based: members give points to one of the program's causes.

A donation is a ledger entry that names its cause, so what each cause received
is a sum in the ledger. It is refused, with the reason, for a cause the program
does not have or when the member has fewer points than it gives.
"""

from __future__ import annotations

from processors.compiled import CompiledProgram
from processors.events import Donation
from processors.money import format_points
from processors.outputs import Activity, Decision, LedgerReason
from processors.points import debit, spendable
from processors.refusals import refuse
from processors.state import MemberState


def donate(state: MemberState, event: Donation, rules: CompiledProgram) -> Decision:
    cause = rules.causes.get(event.cause)
    if cause is None:
        known = ", ".join(rules.causes) or "none"
        return refuse(state, event, f"cause {event.cause!r} is not one of {rules.name}'s causes ({known})")
    has = spendable(state, event.occurred_at, rules)
    if has < event.points:
        return refuse(state, event, f"member {event.member_id} has {format_points(has)} to spend, "
                                    f"fewer than the {format_points(event.points)} to donate", final=True)
    detail = f"Donated {format_points(event.points)} to {cause.name}"
    event_id, member_id, when = event.event_id, event.member_id, event.occurred_at
    return Decision(state, (
        debit(state, event, LedgerReason.DONATION, event.points, detail, cause=cause.id),
        Activity(event_id, member_id, when, "donation", None, None, None, 0, -event.points, None),
    ))
