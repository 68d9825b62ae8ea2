"""Reading reactions: a thread's summary is its `thread_stats` document plus, for a member,
their own reaction (two indexed point reads, never an aggregation over reactions)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from alephdraad_feature.internal.errors import ThreadNotFound
from alephdraad_feature.reactions.models import REACTION_TYPES, Reaction
from alephdraad_feature.reactions.schemas import ReactionCounts, ReactionSummary
from alephdraad_feature.threads.selectors import get_thread_stats


def check_thread_not_hidden(thread_id: int, stats: Mapping[str, Any] | None) -> None:
    """404 THREAD_NOT_FOUND once core told us the thread is deleted (thread.deleted set
    `hidden`): its reactions are neither shown nor changed until it is restored."""
    if stats is not None and stats.get("hidden"):
        raise ThreadNotFound(f"Thread {thread_id} does not exist or was deleted.")


def known_type(value: object) -> str | None:
    """A stored type as the API names it (None for anything not offered)."""
    return value if isinstance(value, str) and value in REACTION_TYPES else None


async def get_my_reaction_type(thread_id: int, user_id: int) -> str | None:
    document = await Reaction.get_pymongo_collection().find_one(
        {"threadId": str(thread_id), "userId": user_id}, {"type": 1}
    )
    return known_type(document["type"]) if document else None


async def get_reaction_summary(thread_id: int, viewer_id: int | None) -> ReactionSummary:
    """Counts, total and the viewer's own reaction. Core is not asked: a read only shows what
    is stored, so a thread we hold nothing about answers zeros (and keeps answering while core
    is down); a thread core deleted answers 404."""
    stats = await get_thread_stats(thread_id)
    check_thread_not_hidden(thread_id, stats)
    mine = await get_my_reaction_type(thread_id, viewer_id) if viewer_id is not None else None
    counts = ReactionCounts.from_stored(stats.get("reactionCounts") if stats else None)
    return ReactionSummary.build(counts, mine)


async def count_reactions_of_user(user_id: int) -> int:
    """The member's reactions, hidden ones included (core's deletion check reports them)."""
    return await Reaction.get_pymongo_collection().count_documents({"userId": user_id})
