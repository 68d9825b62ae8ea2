"""Changing a thread's counters. Every function takes the caller's session: the counter moves
in the same transaction as the reply or reaction it counts (and an upsert creates the
document on a thread's first reply or reaction)."""

from __future__ import annotations

from datetime import datetime

from pymongo.asynchronous.client_session import AsyncClientSession

from alephdraad_feature.platform.db import collection_in_session
from alephdraad_feature.threads.models import ThreadStats


async def do_count_reply(
    session: AsyncClientSession, thread_id: int, delta: int, *, replied_at: datetime | None = None
) -> None:
    """`delta` live replies more (or fewer); a new reply also moves `lastReplyAt` forward."""
    update: dict[str, dict[str, object]] = {"$inc": {"replyCount": delta}}
    if replied_at is not None:
        update["$max"] = {"lastReplyAt": replied_at}
    await collection_in_session(ThreadStats, session).update_one(
        {"_id": thread_id}, update, upsert=True, session=session
    )


async def do_count_reaction(
    session: AsyncClientSession, thread_id: int, reaction_type: str, delta: int
) -> None:
    """`delta` reactions of `reaction_type` more (or fewer)."""
    await collection_in_session(ThreadStats, session).update_one(
        {"_id": thread_id},
        {"$inc": {f"reactionCounts.{reaction_type}": delta, "reactionTotal": delta}},
        upsert=True,
        session=session,
    )


async def do_set_thread_hidden(
    session: AsyncClientSession, thread_id: int, *, hidden: bool
) -> None:
    await collection_in_session(ThreadStats, session).update_one(
        {"_id": thread_id}, {"$set": {"hidden": hidden}}, upsert=True, session=session
    )
