"""Triggers from buying patterns, for the systems that send offers: win-back, repeat favourites, cross-sell.

None of them moves points: each is a ``Trigger`` with what the offer needs in
its attributes, sent once (per inactive spell, per SKU, per suggestion), so a
member is not nudged twice for the same thing.

- Win-back: a member who has bought goes ``inactive_days`` without buying; found
  on the daily clock tick, sent again only after a new purchase and a new spell.
- Repeat favourite: the ``orders``-th order containing the same SKU of the
  watched categories ("you keep buying this blend").
- Cross-sell: an order from ``bought`` by a member who has never bought from
  ``suggest`` (a bike, but no helmet). An order with both suggests nothing.

Returns take nothing back: these are moments to talk to the member, not balances.
Members in the program's holdout get none of them (see ``holdout``).
"""

from __future__ import annotations

from datetime import timedelta

from processors.compiled import CompiledProgram
from processors.events import ClockTick, Purchase
from processors.holdout import held_out
from processors.outputs import Output, Trigger
from processors.state import MemberState


def purchase_nudges(state: MemberState, event: Purchase, rules: CompiledProgram) -> list[Output]:
    """Note the purchase for later win-backs; the repeat-favourite and cross-sell triggers it gives."""
    last = state.last_purchase_at
    if last is None or event.occurred_at > last:
        state.last_purchase_at = event.occurred_at
        state.win_back_sent = False
    outputs: list[Output] = []
    watched = rules.nudge_categories
    for line in event.lines:
        if line.category in watched:
            break
    else:  # nothing the nudges look at, so nothing to change or send: no need to ask about the holdout
        return outputs
    if held_out(event.member_id, rules.holdout_bp):
        return outputs
    if rules.repeat_favourites is not None:
        outputs += _repeat_favourites(state, event, rules)
    if rules.cross_sell:
        outputs += _cross_sell(state, event, rules)
    return outputs


def win_back(state: MemberState, event: ClockTick, rules: CompiledProgram) -> list[Output]:
    """The win-back trigger, if the member's last purchase is ``inactive_days`` before the tick and none was sent."""
    policy, last = rules.win_back, state.last_purchase_at
    if policy is None or last is None or state.win_back_sent or held_out(event.member_id, rules.holdout_bp):
        return []
    if event.occurred_at - last < timedelta(days=policy.inactive_days):
        return []
    state.win_back_sent = True
    days = (event.occurred_at - last).days
    return [Trigger(f"{event.event_id}:win_back", event.member_id, event.event_id, event.occurred_at, "win_back",
                    f"We miss you! Your last visit was {days} days ago.",
                    {"days": str(days), "last_purchase_at": last.isoformat()})]


def _repeat_favourites(state: MemberState, event: Purchase, rules: CompiledProgram) -> list[Output]:
    policy = rules.repeat_favourites
    assert policy is not None
    outputs: list[Output] = []
    skus = {line.sku: line.category for line in event.lines if line.category in policy.categories}
    for sku, category in sorted(skus.items()):
        orders = state.favourite_orders.get(sku, 0) + 1
        state.favourite_orders[sku] = orders
        if orders == policy.orders:
            outputs.append(Trigger(f"{event.event_id}:repeat_favourite:{sku}", event.member_id, event.event_id,
                                   event.occurred_at, "repeat_favourite",
                                   f"{sku} is one of your favourites: this is your order number {orders} with it.",
                                   {"sku": sku, "category": category, "orders": str(orders)}))
    return outputs


def _cross_sell(state: MemberState, event: Purchase, rules: CompiledProgram) -> list[Output]:
    tracked = rules.cross_sell_categories
    in_order = {line.category for line in event.lines if line.category in tracked}
    if not in_order:
        return []
    known = state.categories_bought
    outputs: list[Output] = []
    for rule in rules.cross_sell:
        if rule.bought in in_order and rule.suggest not in in_order and rule.suggest not in known:
            key = f"{rule.bought}>{rule.suggest}"
            if key not in state.cross_sold:
                state.cross_sold.append(key)
                outputs.append(Trigger(f"{event.event_id}:cross_sell:{key}", event.member_id, event.event_id,
                                       event.occurred_at, "cross_sell",
                                       f"Your new {rule.bought} would go well with {rule.suggest}.",
                                       {"bought": rule.bought, "suggest": rule.suggest}))
    if not in_order.issubset(known):
        state.categories_bought = sorted(in_order.union(known))
    return outputs
