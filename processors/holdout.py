"""The holdout: members picked at random, for good, who get no campaign points and no offers.

Comparing what they spend with what everyone else spends tells marketing what
campaigns and offers bring (``sinks.queries.campaign_return``); without such a
control group any figure is a guess. Holdout members earn everything else as
usual: points, tiers, stamps, welcome and birthday gifts, and every message
about their own account (tier, expiry, rewards). The pick is the CRC-32 of
the member id, which ClickHouse's ``CRC32`` computes alike, so the engine and
the analytics agree without storing it.
"""

from __future__ import annotations

import zlib

from processors.program import BASIS_POINTS


def held_out(member_id: str, holdout_bp: int) -> bool:
    """Whether the member is in the holdout of ``holdout_bp`` basis points of all members."""
    return holdout_bp > 0 and zlib.crc32(member_id.encode()) % BASIS_POINTS < holdout_bp
