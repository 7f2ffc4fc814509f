"""Stamp cards: stamps for purchases or items, a reward for a full card, then the card starts again.

A card counts an order once (``per: purchase``) if any line qualifies, or each
qualifying unit (``per: item``). Only a paid line (above 0.00) qualifies: the
free coffee a full card gives, rung up at nothing, is no stamp towards the next.
Enough stamps for several cards at once give several rewards; what is left
over starts the next card. A reward is issued as a ``RewardIssued`` with its
card and a ``stamp_card_complete`` trigger.

Stamps are not points: a card's progress is not in the ledger, and a return
does not take stamps back (the product's cards work like paper ones).
"""

from __future__ import annotations

from processors.compiled import CompiledProgram
from processors.events import Purchase
from processors.outputs import Output, RewardIssued, Trigger
from processors.state import MemberState


def add_stamps(state: MemberState, event: Purchase, rules: CompiledProgram) -> list[Output]:
    """Stamp every card the purchase qualifies for; the rewards and triggers of cards it completes."""
    outputs: list[Output] = []
    for card in rules.stamp_cards:
        categories = card.categories
        items = [line.quantity for line in event.lines
                 if line.amount_minor > 0 and (not categories or line.category in categories)]
        if not items:
            continue
        earned = 1 if card.per == "purchase" else sum(items)
        stamps = state.stamps.get(card.name, 0) + earned
        full, left = divmod(stamps, card.stamps)
        state.stamps[card.name] = left
        for n in range(full):
            reward_id = f"{event.event_id}:stamps:{card.name}" + (f":{n + 1}" if n else "")
            detail = f"Stamp card {card.name} full ({card.stamps} stamps): {card.reward}"
            outputs.append(RewardIssued(reward_id, event.member_id, event.event_id, event.occurred_at,
                                        card.reward, 0, detail))
        if full:
            outputs.append(Trigger(f"{event.event_id}:stamp_card_complete:{card.name}", event.member_id,
                                   event.event_id, event.occurred_at, "stamp_card_complete",
                                   f"Your {card.name} card is full: enjoy {card.reward}!",
                                   {"card": card.name, "reward": card.reward, "rewards": str(full)}))
    return outputs
