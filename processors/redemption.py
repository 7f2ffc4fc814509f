"""Redemption: spending points on a reward from the catalogue, and undoing it.

A redemption names a reward in the program's catalogue and carries its own
id. It is refused, with the reason, when the reward is not in the catalogue,
the id was used before, or the member has too few points: a balance never goes
below zero by spending. An accepted one is a negative ledger entry and a
``RewardIssued``; a partner's voucher is also a settlement entry, the program
owing the partner for the points spent with it. Cancelling a redemption gives
back exactly the points it took, once, as the points they were: where points
expire by age, they go back to the lots they came from and expire on the same
day (cancelling and redeeming again does not keep points alive).
"""

from __future__ import annotations

from processors.compiled import CompiledProgram
from processors.events import Redemption, RedemptionCancelled
from processors.expiry import expire_due_lots
from processors.money import format_points
from processors.outputs import Activity, Decision, LedgerReason, Output, RewardIssued
from processors.partners import settlement
from processors.points import credit, debit, spendable
from processors.refusals import refuse
from processors.state import MemberState, RedemptionRecord


def redeem(state: MemberState, event: Redemption, rules: CompiledProgram) -> Decision:
    reward = rules.rewards.get(event.reward)
    if reward is None:
        offered = ", ".join(rules.rewards) or "none: the program has no reward catalogue"
        return refuse(state, event, f"reward {event.reward!r} is not in {rules.name}'s catalogue (offered: {offered})")
    if event.redemption_id in state.redemptions:
        return refuse(state, event, f"redemption {event.redemption_id} was already made: send a new redemption_id")
    has = spendable(state, event.occurred_at, rules)
    if has < reward.points:
        return refuse(state, event, f"{reward.name} needs {format_points(reward.points)}; "
                                    f"member {event.member_id} has {format_points(has)} to spend", final=True)
    record = state.redemptions[event.redemption_id] = RedemptionRecord(reward.id, reward.points, False,
                                                                        reward.partner)
    detail = f"Redeemed {format_points(reward.points)} for {reward.name} (redemption {event.redemption_id})"
    event_id, member_id, when = event.event_id, event.member_id, event.occurred_at
    outputs: list[Output] = [
        debit(state, event, LedgerReason.REDEMPTION, reward.points, detail, spent_from=record.spent_from),
        RewardIssued(f"{event_id}:redeemed", member_id, event_id, when, reward.id, -reward.points, detail),
        Activity(event_id, member_id, when, "redemption", None, None, None, 0, -reward.points, None),
    ]
    partner = rules.partners.get(reward.partner) if reward.partner is not None else None
    if partner is not None:
        outputs.append(settlement(event, partner.partner, "burn", -reward.points, rules.currency,
                                  f"{reward.name} spent {format_points(reward.points)}"))
    return Decision(state, tuple(outputs))


def cancel_redemption(state: MemberState, event: RedemptionCancelled, rules: CompiledProgram) -> Decision:
    record = state.redemptions.get(event.redemption_id)
    if record is None:
        return refuse(state, event, f"no redemption {event.redemption_id} for member {event.member_id}")
    if record.cancelled:
        return refuse(state, event, f"redemption {event.redemption_id} is already cancelled")
    record.cancelled, balance = True, state.balance
    detail = f"Redemption {event.redemption_id} of {record.reward} cancelled: {format_points(record.points)} back"
    event_id, member_id, when = event.event_id, event.member_id, event.occurred_at
    outputs: list[Output] = [
        credit(state, event, rules, LedgerReason.REDEMPTION_CANCELLED, record.points, detail, earned=False,
               spent_from=record.spent_from),
        *expire_due_lots(state, event, rules),
    ]
    outputs.append(Activity(event_id, member_id, when, "redemption_cancelled", None, None, None, 0,
                            state.balance - balance, None))  # net of any points that expired on their way back
    partner = rules.partners.get(record.partner_id) if record.partner_id is not None else None
    if partner is not None:
        outputs.append(settlement(event, partner.partner, "burn_cancelled", record.points, rules.currency,
                                  f"redemption {event.redemption_id} cancelled, {format_points(record.points)} back"))
    return Decision(state, tuple(outputs))
