"""Coalition partners: the settlement ledger of what each partner and the program owe each other.

Members earn at a partner at the partner's own rate (see ``earning``) and spend
points there, on its vouchers (see ``redemption``) or paying part of an order
with them (see ``purchases``). Every such point moves money
between the partner and the program at the partner's ``point_value_minor``: a
partner pays for the points its customers earn (a positive amount: the partner
owes it) and is paid for the points members spend with it (negative: the
program owes it). Returns and cancellations reverse exactly their share, so a
partner's balance is always the sum of its settlement entries.
"""

from __future__ import annotations

from processors.events import MemberEvent
from processors.money import format_money
from processors.outputs import SettlementEntry
from processors.program import Partner


def settlement(event: MemberEvent, partner: Partner, kind: str, points: int, currency: str,
               why: str, *, suffix: str = "settlement") -> SettlementEntry:
    """The entry for ``points`` earned (positive) or spent (negative) at ``partner`` through ``event``.

    The amount has the points' sign: points a partner hands out are owed by
    it, points spent with it are owed to it. An event with two entries (an
    order both earning and paid with points) gives the second its own ``suffix``.
    """
    amount = points * partner.point_value_minor
    owed = (f"{partner.name} owes {format_money(amount, currency)}" if amount >= 0
            else f"{partner.name} is owed {format_money(-amount, currency)}")
    return SettlementEntry(f"{event.event_id}:{suffix}", partner.id, event.member_id, event.event_id,
                           event.occurred_at, kind, points, amount, currency, f"{why}: {owed}")
