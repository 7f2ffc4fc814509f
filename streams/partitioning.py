"""Which partition a member lives on: Kafka's default (murmur2) partitioner.

The same hash Java clients and Faust use, so a member's batches, table
partition and keyed outputs agree wherever they are produced from.
"""

from __future__ import annotations

from functools import lru_cache

from aiokafka.partitioner import murmur2


@lru_cache(maxsize=1_000_000)
def member_partition(member_id: str, partitions: int) -> int:
    return (murmur2(member_id.encode()) & 0x7FFF_FFFF) % partitions
