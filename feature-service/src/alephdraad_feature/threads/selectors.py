"""Reading `thread_stats`: one indexed document per thread, never an aggregation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession

from alephdraad_feature.platform.db import collection_in_session
from alephdraad_feature.threads.models import ThreadStats

_COUNTERS = {"replyCount": 1, "lastReplyAt": 1, "reactionCounts": 1, "hidden": 1}


async def get_thread_stats_in_session(
    session: AsyncClientSession, thread_id: int
) -> Mapping[str, Any] | None:
    """The thread's counters as the caller's transaction sees them (None: nothing counted yet).

    Read inside a writer's transaction so that what it decides from them (the thread is
    hidden; the counts it answers with) belongs to the same snapshot as its writes."""
    return await collection_in_session(ThreadStats, session).find_one(
        {"_id": thread_id}, _COUNTERS, session=session
    )


async def get_thread_stats(thread_id: int) -> Mapping[str, Any] | None:
    return await ThreadStats.get_pymongo_collection().find_one({"_id": thread_id}, _COUNTERS)


async def list_visible_thread_stats(thread_ids: Sequence[int]) -> dict[int, Mapping[str, Any]]:
    """The counters of the threads asked for that have any and are not hidden, in ONE query
    (`_id` $in). Hidden threads (deleted in core) are left out like threads never counted."""
    if not thread_ids:
        return {}
    cursor = ThreadStats.get_pymongo_collection().find(
        {"_id": {"$in": list(thread_ids)}, "hidden": {"$ne": True}},
        _COUNTERS,
        # `_id` is unique, so at most one document per id: with the limit the server closes
        # the cursor in its first reply, and no getMore round trip follows.
        limit=len(thread_ids),
    )
    return {document["_id"]: document async for document in cursor}
