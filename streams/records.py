"""Translation between Avro records (plain dicts) and the rules' typed values.

The Avro contracts and the dataclasses use the same field names, so outputs
convert field by field; input events are built from the envelope plus the
body the union tags. Member state has its own storage format (``state_codec``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields, is_dataclass
from functools import cache
from operator import attrgetter
from typing import Any, get_args, get_origin, get_type_hints

from processors.events import (
    ENGINE_MADE_EVENTS,
    CardLinked,
    CardUnlinked,
    Channel,
    Donation,
    FollowUpEvent,
    MemberEnrolled,
    MemberErased,
    MemberEvent,
    MemberSegments,
    MembershipPaid,
    Purchase,
    PurchaseLine,
    Redemption,
    RedemptionCancelled,
    Referral,
    Return,
    ReturnedLine,
    SocialAction,
    SocialShare,
    SurveyAnswered,
    TierAssigned,
)
from processors.outputs import (
    Activity,
    Erasure,
    LedgerEntry,
    Output,
    RewardIssued,
    SettlementEntry,
    TierChanged,
    Trigger,
)

Record = dict[str, Any]

BODY_PREFIX = "loyalty.v1."


def body_type(record: Record) -> str:
    """``Purchase``, ``Return``, ... for a decoded LoyaltyEvent."""
    return str(record["body"][0]).removeprefix(BODY_PREFIX)


def _purchase(head: Record, body: Record) -> Purchase:
    return Purchase(
        **head,
        order_id=body["order_id"],
        channel=Channel(body["channel"]),
        store_id=body["store_id"],
        currency=body["currency"],
        total_minor=body["total_minor"],
        lines=tuple(PurchaseLine(**line) for line in body["lines"]),
        payment_method=body["payment_method"],
        partner_id=body.get("partner_id"),
        points_used=body.get("points_used", 0),
    )


def _return(head: Record, body: Record) -> Return:
    return Return(
        **head,
        order_id=body["order_id"],
        currency=body["currency"],
        refund_minor=body["refund_minor"],
        lines=tuple(ReturnedLine(**line) for line in body["lines"]),
    )


def _enrolled(head: Record, body: Record) -> MemberEnrolled:
    return MemberEnrolled(**head, channel=Channel(body["channel"]), birthday=body["birthday"],
                          referred_by=body["referred_by"])


def _social(head: Record, body: Record) -> SocialShare:
    return SocialShare(**head, platform=body["platform"], action=SocialAction(body["action"]),
                       post_id=body["post_id"])


_BODIES: dict[str, Callable[[Record, Record], MemberEvent]] = {
    "Purchase": _purchase,
    "Return": _return,
    "MemberEnrolled": _enrolled,
    "CardLinked": lambda head, body: CardLinked(**head, card_token=body["card_token"]),
    "CardUnlinked": lambda head, body: CardUnlinked(**head, card_token=body["card_token"]),
    "Referral": lambda head, body: Referral(**head, referral_code=body["referral_code"],
                                            friend_member_id=body["friend_member_id"]),
    "SocialShare": _social,
    "Redemption": lambda head, body: Redemption(**head, redemption_id=body["redemption_id"], reward=body["reward"]),
    "RedemptionCancelled": lambda head, body: RedemptionCancelled(**head, redemption_id=body["redemption_id"]),
    "Donation": lambda head, body: Donation(**head, cause=body["cause"], points=body["points"]),
    "MembershipPaid": lambda head, body: MembershipPaid(**head, membership=body["membership"],
                                                        fee_minor=body["fee_minor"], currency=body["currency"]),
    "MemberSegments": lambda head, body: MemberSegments(**head, segments=tuple(body["segments"])),
    "SurveyAnswered": lambda head, body: SurveyAnswered(**head, survey=body["survey"], score=body["score"]),
    "MemberErased": lambda head, body: MemberErased(**head, reason=body["reason"]),
    "TierAssigned": lambda head, body: TierAssigned(**head, tier=body["tier"], until=body.get("until"),
                                                    note=body["note"]),
}


def _engine_made(cls: Callable[..., MemberEvent]) -> Callable[[Record, Record], MemberEvent]:
    """The engine writes its own events' bodies field by field (``follow_up_record``): they read back as they are."""
    return lambda head, body: cls(**head, **body)


ENGINE_MADE = frozenset(kind.__name__ for kind in ENGINE_MADE_EVENTS)
_BODIES.update({kind.__name__: _engine_made(kind) for kind in ENGINE_MADE_EVENTS})


def follow_up_record(event: FollowUpEvent) -> Record:
    """The LoyaltyEvent the engine sends itself for a follow-up event."""
    head = _field_names(MemberEvent)
    kind: type = type(event)  # as a plain type: mypy takes a dataclass type for unhashable, which cache() refuses
    return {"event_id": event.event_id, "occurred_at": event.occurred_at, "source": event.source,
            "member_id": event.member_id, "card_token": None,
            "body": (f"{BODY_PREFIX}{kind.__name__}",
                     {name: getattr(event, name) for name in _field_names(kind) if name not in head})}


def event_from_record(record: Record) -> MemberEvent:
    """The typed event for a decoded LoyaltyEvent whose member id is resolved."""
    head = {
        "event_id": record["event_id"],
        "member_id": record["member_id"],
        "occurred_at": record["occurred_at"],
        "source": record["source"],
    }
    return _BODIES[body_type(record)](head, record["body"][1])


@cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


def as_record(value: Any) -> Record:
    """An output dataclass (and the dataclasses in its tuples) as a plain dict for the Avro codec.

    Mappings and scalars are passed as they are: the codec writes any mapping.
    """
    kind: type = type(value)  # see follow_up_record
    return _record_maker(kind)(value)


@cache
def _record_maker(cls: type) -> Callable[[Any], Record]:
    """Reads every field in one call (``attrgetter``); only fields typed as tuples of dataclasses nest."""
    names = _field_names(cls)
    values = attrgetter(*names)
    nested = [name for name, hint in get_type_hints(cls).items()
              if get_origin(hint) is tuple and is_dataclass(get_args(hint)[0])]

    def make(value: Any) -> Record:
        record = dict(zip(names, values(value), strict=True))
        for name in nested:
            record[name] = [as_record(item) for item in record[name]]
        return record

    return make


OUTPUT_TOPICS: dict[type, tuple[str, str]] = {
    LedgerEntry: ("loyalty.ledger.v1", "LedgerEntry"),
    RewardIssued: ("loyalty.rewards.v1", "RewardIssued"),
    Trigger: ("loyalty.triggers.v1", "Trigger"),
    TierChanged: ("loyalty.tiers.v1", "TierChanged"),
    Activity: ("loyalty.activity.v1", "Activity"),
    SettlementEntry: ("loyalty.settlements.v1", "SettlementEntry"),
    Erasure: ("loyalty.erasures.v1", "Erasure"),
}


def output_destination(output: Output) -> tuple[str, str]:
    """(topic, contract) an output is published on."""
    return OUTPUT_TOPICS[type(output)]
