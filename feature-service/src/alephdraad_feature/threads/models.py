"""`thread_stats`: one document per core thread with its reply and reaction counters.

Thread lists show reply and reaction counts for up to 100 threads at once; reading them must be
one indexed lookup (`_id` in [...]), never an aggregation over replies or reactions. So the
counters are kept here, changed with server-side update operators (`$inc`, `$max`) in the
same transaction as the reply or reaction write that changes them (`threads.stats`).
"""

from __future__ import annotations

from datetime import datetime

from beanie import Document
from pydantic import ConfigDict, Field


class ThreadStats(Document):
    model_config = ConfigDict(populate_by_name=True)

    id: int  # type: ignore[assignment]  # core's thread id
    # Live (not deleted) replies, tombstones excluded.
    reply_count: int = Field(default=0, alias="replyCount")
    last_reply_at: datetime | None = Field(default=None, alias="lastReplyAt")
    # Per reaction type (like, love, …) and their sum.
    reaction_counts: dict[str, int] = Field(default_factory=dict, alias="reactionCounts")
    reaction_total: int = Field(default=0, alias="reactionTotal")
    # The thread was deleted in core (thread.deleted); lists must not show it. Counters stay as
    # they were, so thread.restored only has to clear this flag.
    hidden: bool = False

    class Settings:
        name = "thread_stats"
