"""A realistic synthetic day of a retailer, for the demo, the tests and the benchmark.

Two phases, as a retailer going live would send them: first the member base
(enrolments and linked cards from before the day), then the day itself: web
orders, POS sales, card-linked bank transactions, a few returns, new members
joining in a shop or online, referrals, social shares, survey answers and CRM
segments, plus what real feeds also carry: resent duplicates, undecodable bytes,
a card number where a token belongs and events for members nobody enrolled.

Events of one member that must stay in order come from one source, and the
input topic is keyed by source, so they share a partition.
"""

from __future__ import annotations

import base64
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

CATEGORIES = {
    "tops": (19_900, 59_900), "trousers": (39_900, 99_900), "shoes": (49_900, 199_900),
    "accessories": (9_900, 39_900), "outlet": (4_900, 29_900), "gift_card": (50_000, 100_000),
    "delivery": (4_900, 4_900),
}
STORES = [f"pos:store-{n:02d}" for n in range(1, 13)]
WEB, APP, BANK = "webshop", "app", "bank:cardfeed"
PAYMENT_METHODS = ["card", "swish", "cash", "nordic_style_card"]  # the last is the fashion program's store card
SURVEY_SCORES = [2, 1, 1, 2, 2, 4, 6, 12, 20, 25, 25]  # how often each answer 0-10 comes
SEGMENTS = [["newsletter"], ["newsletter", "stockholm"], ["stockholm"], ["students"], []]


@dataclass
class Feed:
    """Messages as (key, record or raw bytes); raw bytes are deliberately broken input."""

    base: list[tuple[bytes, dict[str, Any] | bytes]] = field(default_factory=list)
    day: list[tuple[bytes, dict[str, Any] | bytes]] = field(default_factory=list)
    duplicates: int = 0

    def expected_outcomes(self) -> int:
        """Every distinct message ends as exactly one accepted event or one dead letter."""
        return len(self.base) + len(self.day) - self.duplicates


def _event(event_id: str, at: datetime, source: str, member_id: str | None, body: tuple[str, dict[str, Any]],
           card_token: str | None = None) -> dict[str, Any]:
    return {"event_id": event_id, "occurred_at": at, "source": source, "member_id": member_id,
            "card_token": card_token, "body": (f"loyalty.v1.{body[0]}", body[1])}


def synthetic_day(members: int = 5_000, events: int = 100_000, seed: int = 7,
                  day: datetime | None = None) -> Feed:
    rng = random.Random(seed)
    start = day or datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    feed = Feed()
    joining_today = members // 10
    home: dict[str, str] = {}  # member joining today -> the source of all their events today
    joined: dict[str, datetime] = {}
    cards: dict[str, str] = {}
    base_ids = [f"M{n:06d}" for n in range(members - joining_today)]
    new_ids = [f"M{n:06d}" for n in range(members - joining_today, members)]
    for n, member in enumerate(base_ids):
        enrolled_at = start - timedelta(days=rng.randint(30, 700), minutes=n % 1440)
        feed.base.append((APP.encode(), _event(f"enrol-{member}", enrolled_at, APP, member, (
            "MemberEnrolled", {"channel": rng.choice(["web", "pos", "app"]),
                               "birthday": f"{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                               "referred_by": None}))))
        if rng.random() < 0.3:
            # Card tokens from a tokenisation service: letters and digits 2-7, never PAN-shaped.
            cards[member] = "tok_" + base64.b32encode(rng.randbytes(10)).decode()
            feed.base.append((APP.encode(), _event(f"card-{member}", enrolled_at + timedelta(days=1), APP, member,
                                                   ("CardLinked", {"card_token": cards[member]}))))

    day_events: list[tuple[datetime, str, dict[str, Any] | bytes]] = []
    for member in new_ids:
        home[member] = rng.choice([WEB, *STORES])
        at = joined[member] = start + timedelta(seconds=rng.randint(0, 20 * 3600))
        day_events.append((at, home[member], _event(f"enrol-{member}", at, home[member], member, (
            "MemberEnrolled", {"channel": "web" if home[member] == WEB else "pos", "birthday": None,
                               "referred_by": rng.choice(base_ids) if rng.random() < 0.2 else None}))))

    orders: list[tuple[datetime, str, str, dict[str, Any]]] = []
    n_special = events // 50
    everyone = base_ids + new_ids
    for n in range(events - len(day_events) - n_special):
        member = rng.choice(everyone)
        at = start + timedelta(seconds=rng.randint(0, 86_399))
        if member in home:
            at = joined[member] + (at - start) / 8
            source = home[member]
        elif member in cards and rng.random() < 0.5:
            source = BANK
        else:
            source = rng.choice([WEB, WEB, *STORES])
        lines: list[dict[str, Any]] = []
        for i in range(rng.choices([1, 2, 3, 4, 5], [40, 25, 15, 12, 8])[0]):
            category = rng.choice(list(CATEGORIES))
            low, high = CATEGORIES[category]
            quantity = rng.choices([1, 2, 3], [80, 15, 5])[0]
            lines.append({"line_id": str(i + 1), "sku": f"{category[:3].upper()}-{rng.randint(1, 400):04d}",
                          "category": category, "quantity": quantity,
                          "amount_minor": quantity * rng.randrange(low, high + 1, 100)})
        order_id = f"O{n:07d}"
        order: dict[str, Any] = {
            "order_id": order_id, "channel": {WEB: "web", BANK: "card"}.get(source, "pos"),
            "store_id": source.removeprefix("pos:") if source.startswith("pos:") else None,
            "currency": "SEK", "total_minor": sum(line["amount_minor"] for line in lines),
            "lines": lines, "payment_method": "card" if source == BANK else rng.choice(PAYMENT_METHODS)}
        if source == BANK:
            event = _event(f"bank-{n}", at, source, None, ("Purchase", order), card_token=cards[member])
        else:
            event = _event(f"order-{n}", at, source, member, ("Purchase", order))
        day_events.append((at, source, event))
        orders.append((at, source, member, order))

    for at, source, member, order in rng.sample(orders, min(len(orders), n_special // 2)):
        returned = rng.sample(order["lines"], rng.randint(1, len(order["lines"])))
        day_events.append((at + timedelta(minutes=rng.randint(1, 60)), source, _event(
            f"return-{order['order_id']}", at + timedelta(minutes=rng.randint(1, 60)), source, member,
            ("Return", {"order_id": order["order_id"], "currency": "SEK",
                        "refund_minor": sum(line["amount_minor"] for line in returned),
                        "lines": [{"line_id": line["line_id"], "quantity": line["quantity"]} for line in returned]}))))
    for n in range(n_special // 4):
        member, at = rng.choice(base_ids), start + timedelta(seconds=rng.randint(0, 86_399))
        if n % 6 == 1:
            body: tuple[str, dict[str, Any]] = ("SocialShare", {"platform": rng.choice(["instagram", "tiktok"]),
                                                                "action": "share", "post_id": f"P{n}"})
        elif n % 6 == 2:  # rewards of the fashion example's catalogue; some members have too few points
            body = ("Redemption", {"redemption_id": f"R{n}", "reward": rng.choice(["free_shipping", "discount_100"])})
        elif n % 6 == 3:  # the fashion example's paid membership
            body = ("MembershipPaid", {"membership": "style_plus", "fee_minor": 49_900, "currency": "SEK"})
        elif n % 6 == 4:  # the app's "how likely are you to recommend us?"
            body = ("SurveyAnswered", {"survey": "nps-app", "score": rng.choices(range(11), SURVEY_SCORES)[0]})
        elif n % 6 == 5:  # segments a CRM computed
            body = ("MemberSegments", {"segments": rng.choice(SEGMENTS)})
        else:
            body = ("Referral", {"referral_code": f"REF-{member}", "friend_member_id": None})
        day_events.append((at, APP, _event(f"app-{n}", at, APP, member, body)))
    for _ in range(n_special // 4 - 15):
        day_events.append(day_events[rng.randrange(len(day_events))])
        feed.duplicates += 1
    for n in range(5):
        at = start + timedelta(hours=9 + n)
        day_events.append((at, WEB, b"\x00not avro at all"))
        day_events.append((at, WEB, _event(f"ghost-{n}", at, WEB, f"GHOST{n}", ("Purchase", {
            "order_id": f"G{n}", "channel": "web", "store_id": None, "currency": "SEK", "total_minor": 10_000,
            "lines": [{"line_id": "1", "sku": "TOP-0001", "category": "tops", "quantity": 1, "amount_minor": 10_000}],
            "payment_method": "card"}))))
        day_events.append((at, BANK, _event(f"pan-{n}", at, BANK, None, ("Purchase", {
            "order_id": f"PAN{n}", "channel": "card", "store_id": None, "currency": "SEK", "total_minor": 10_000,
            "lines": [{"line_id": "1", "sku": "TOP-0001", "category": "tops", "quantity": 1, "amount_minor": 10_000}],
            "payment_method": "card"}), card_token="4111 1111 1111 1111")))
    day_events.sort(key=lambda item: item[0])
    feed.day = [(source.encode(), event) for _, source, event in day_events]
    return feed

