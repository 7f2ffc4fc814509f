"""The engine's Kafka topics, declared once, and an idempotent creator for them.

Every topic is created explicitly (never auto-created by a first produce) so that
partition counts match across the co-partitioned topics and so that each topic
carries ``retention.ms`` and ``cleanup.policy``: Tansu reports no retention at all
unless it was set at creation, and some clients expect one.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

__all__ = [
    "ACTIVITY",
    "CARDS",
    "DEADLETTER",
    "DEFAULT_PARTITIONS",
    "ENGINE_EVENTS",
    "ERASURES",
    "EVENTS",
    "LEDGER",
    "MEMBERS_CHANGELOG",
    "MEMBER_BATCHES",
    "REWARDS",
    "SETTLEMENTS",
    "TIERS",
    "TRIGGERS",
    "Cleanup",
    "TopicSpec",
    "engine_topics",
    "ensure_topics",
    "topic_names",
]

DEFAULT_PARTITIONS = 4

DAY_MS = 24 * 60 * 60 * 1000
FOREVER_MS = -1

EVENTS = "loyalty.events.v1"
ENGINE_EVENTS = "loyalty.engine-events.v1"
MEMBER_BATCHES = "loyalty.member-batches.v1"
CARDS = "loyalty.cards.v1"
LEDGER = "loyalty.ledger.v1"
REWARDS = "loyalty.rewards.v1"
TRIGGERS = "loyalty.triggers.v1"
TIERS = "loyalty.tiers.v1"
ACTIVITY = "loyalty.activity.v1"
SETTLEMENTS = "loyalty.settlements.v1"
DEADLETTER = "loyalty.deadletter.v1"
ERASURES = "loyalty.erasures.v1"
MEMBERS_CHANGELOG = "loyalty-members-changelog"  # Faust's name for the members table's changelog
WORKER_GROUP = "loyalty"  # the Faust app's id, which is the workers' consumer group


class Cleanup(StrEnum):
    """Kafka ``cleanup.policy`` values we use."""

    DELETE = "delete"
    COMPACT = "compact"


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """One topic: its name, role, partitions and retention settings."""

    name: str
    role: str  # "input" | "internal" | "output"
    partitions: int
    cleanup: Cleanup = Cleanup.DELETE
    retention_ms: int = 7 * DAY_MS
    doc: str = ""

    def config(self) -> dict[str, str]:
        """Topic configs sent at creation (always both keys, see module docstring)."""
        return {"cleanup.policy": str(self.cleanup), "retention.ms": str(self.retention_ms)}

    def new_topic(self, replication_factor: int = 1) -> NewTopic:
        """The confluent-kafka creation request for this spec."""
        return NewTopic(
            self.name,
            num_partitions=self.partitions,
            replication_factor=replication_factor,
            config=self.config(),
        )


def engine_topics(partitions: int = DEFAULT_PARTITIONS) -> list[TopicSpec]:
    """All topics of the engine; every one has ``partitions`` partitions so keys co-partition."""
    if partitions < 1:
        raise ValueError(f"partitions must be >= 1, got {partitions}")
    p = partitions
    return [
        TopicSpec(
            EVENTS,
            "input",
            p,
            retention_ms=7 * DAY_MS,
            doc="input events from shops and feeds, keyed by source",
        ),
        TopicSpec(
            ENGINE_EVENTS,
            "internal",
            p,
            retention_ms=7 * DAY_MS,
            doc="events the engine sends itself (clock ticks, referral and campaign follow-ups); only it writes here",
        ),
        TopicSpec(
            MEMBER_BATCHES,
            "internal",
            p,
            retention_ms=1 * DAY_MS,
            doc="events re-keyed and batched per member for the Faust agents",
        ),
        TopicSpec(
            CARDS,
            "output",
            p,
            Cleanup.COMPACT,
            FOREVER_MS,
            doc="card token -> member; compacted, read in full when ingest starts",
        ),
        TopicSpec(
            MEMBERS_CHANGELOG,
            "internal",
            p,
            Cleanup.COMPACT,
            FOREVER_MS,
            doc="changelog of the members table (member states)",
        ),
        TopicSpec(LEDGER, "output", p, retention_ms=30 * DAY_MS, doc="point ledger entries"),
        TopicSpec(REWARDS, "output", p, retention_ms=30 * DAY_MS, doc="granted rewards"),
        TopicSpec(TRIGGERS, "output", p, retention_ms=7 * DAY_MS, doc="fired rule triggers"),
        TopicSpec(TIERS, "output", p, retention_ms=30 * DAY_MS, doc="tier changes"),
        TopicSpec(ACTIVITY, "output", p, retention_ms=7 * DAY_MS, doc="per-member activity feed"),
        TopicSpec(SETTLEMENTS, "output", p, retention_ms=30 * DAY_MS,
                  doc="what coalition partners and the program owe each other"),
        TopicSpec(ERASURES, "output", p, retention_ms=30 * DAY_MS,
                  doc="members erased at their request: downstream systems delete them too"),
        TopicSpec(
            DEADLETTER,
            "output",
            p,
            retention_ms=30 * DAY_MS,
            doc="events that failed validation or processing, with the reason",
        ),
    ]


def topic_names() -> list[str]:
    """Names of all engine topics, in declaration order."""
    return [t.name for t in engine_topics()]


def ensure_topics(
    bootstrap: str,
    partitions: int = DEFAULT_PARTITIONS,
    *,
    specs: Iterable[TopicSpec] | None = None,
    timeout: float = 15.0,
) -> list[str]:
    """Create the engine topics that do not exist yet; return the names created.

    Idempotent: existing topics (and a racing creator's ``TOPIC_ALREADY_EXISTS``) are
    fine; their partition count is *not* changed. The AdminClient is kept referenced
    until every future resolves: dropping it early can leave the requests unsent.
    """
    wanted = list(specs) if specs is not None else engine_topics(partitions)
    admin = AdminClient({"bootstrap.servers": bootstrap})
    existing = set(admin.list_topics(timeout=timeout).topics)
    missing = [t for t in wanted if t.name not in existing]
    if not missing:
        return []
    futures = admin.create_topics([t.new_topic() for t in missing], operation_timeout=timeout, request_timeout=timeout)
    created: list[str] = []
    errors: list[str] = []
    for name, fut in futures.items():
        try:
            fut.result(timeout=timeout)
            created.append(name)
        except KafkaException as exc:
            err = exc.args[0] if exc.args else None
            if isinstance(err, KafkaError) and err.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                continue
            errors.append(f"{name}: {exc}")
    if errors:
        raise RuntimeError(
            f"Could not create topics on {bootstrap}: "
            + "; ".join(errors)
            + ". Is the broker running (python -m streams.embedded) and reachable?"
        )
    _wait_for_leaders(bootstrap, created, timeout)
    return created


def _wait_for_leaders(bootstrap: str, topics: list[str], timeout: float) -> None:
    """Return once every partition of ``topics`` answers for its offsets.

    Kafka answers CreateTopics before the new partitions' leaders are ready; a
    client that reads offsets in between gets NOT_LEADER_FOR_PARTITION.
    """
    probe = Consumer({"bootstrap.servers": bootstrap, "group.id": "loyalty-topic-probe"})
    try:
        deadline = time.monotonic() + timeout
        metadata = probe.list_topics(timeout=timeout).topics
        pending = [TopicPartition(name, p) for name in topics if name in metadata for p in metadata[name].partitions]
        while pending:
            waiting = []
            for tp in pending:
                try:
                    probe.get_watermark_offsets(tp, timeout=timeout, cached=False)
                except KafkaException:
                    waiting.append(tp)
            pending = waiting
            if pending and time.monotonic() > deadline:
                raise RuntimeError(f"{len(pending)} new topic partitions have no ready leader after {timeout:.0f} s")
            if pending:
                time.sleep(0.1)
    finally:
        probe.close()
