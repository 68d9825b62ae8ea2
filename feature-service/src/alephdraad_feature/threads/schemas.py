"""Shapes of GET /api/v1/threads/stats, and what a thread id is."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from pydantic import BaseModel, Field

from alephdraad_feature.reactions.schemas import ReactionCounts
from alephdraad_feature.threads.errors import ThreadIdsInvalid

# Core's thread ids are PostgreSQL bigints: 1 … 2**63-1 (core's lookup refuses anything else).
MAX_THREAD_ID: Final = 2**63 - 1
# The most threads one stats request may ask about (a page of a thread list is at most 100).
STATS_IDS_LIMIT: Final = 100
_DIGITS = re.compile(r"^[0-9]{1,19}$")


def parse_thread_ids(raw: str) -> list[int]:
    """`ids` as thread ids, in the order given, duplicates collapsed (first one kept).

    Comma-separated decimal ids, each 1 … 2**63-1, with spaces around entries allowed; at most
    STATS_IDS_LIMIT entries as sent (duplicates included, so the limit bounds the work done
    before collapsing). Anything else is 422 naming the first offending entry."""
    entries = [entry.strip() for entry in raw.split(",")]
    if entries == [""]:
        raise ThreadIdsInvalid("give at least one thread id")
    if len(entries) > STATS_IDS_LIMIT:
        raise ThreadIdsInvalid(f"at most {STATS_IDS_LIMIT} thread ids, got {len(entries)}")
    ids: dict[int, None] = {}
    for position, entry in enumerate(entries, start=1):
        if not _DIGITS.fullmatch(entry) or not 1 <= int(entry) <= MAX_THREAD_ID:
            shown = entry if len(entry) <= 24 else f"{entry[:24]}…"
            raise ThreadIdsInvalid(
                f"entry {position} ({shown!r}) is not a thread id (a whole number from 1 "
                f"to {MAX_THREAD_ID})"
            )
        ids[int(entry)] = None
    return list(ids)


class ThreadStatsItem(BaseModel):
    """A thread's counters, for a thread list."""

    reply_count: int = Field(ge=0, description="Live replies (tombstones not counted).")
    reaction_counts: ReactionCounts
    reaction_total: int = Field(ge=0, description="The sum of `reaction_counts`.")
    last_reply_at: datetime | None = Field(description="When the newest reply was posted.")

    @classmethod
    def from_stored(cls, stored: Mapping[str, Any] | None) -> ThreadStatsItem:
        """From a `thread_stats` document; None (never counted, or hidden) is all zeros."""
        stored = stored or {}
        counts = ReactionCounts.from_stored(stored.get("reactionCounts"))
        return cls(
            # Clamped like the reaction counters (ReactionCounts.from_stored says why).
            reply_count=max(0, int(stored.get("replyCount") or 0)),
            reaction_counts=counts,
            reaction_total=counts.total,
            last_reply_at=stored.get("lastReplyAt"),
        )


class ThreadStatsResponse(BaseModel):
    """One entry per distinct id asked for, keyed by the id as a string, in the order asked."""

    threads: dict[str, ThreadStatsItem] = Field(
        examples=[
            {
                "123": {
                    "reply_count": 4,
                    "reaction_counts": {"like": 2, "love": 1, "fire": 0, "sad": 0, "laugh": 0},
                    "reaction_total": 3,
                    "last_reply_at": "2026-01-07T10:00:00Z",
                }
            }
        ]
    )
