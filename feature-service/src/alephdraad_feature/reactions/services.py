"""Changing reactions, and the counters in `thread_stats` with them.

Every change runs in one MongoDB transaction with the counter move it causes
(`threads.stats.do_count_reaction`, server-side `$inc`), so the counters always equal the
reactions stored: a transaction that lost a race (another member's change to the same
`thread_stats` document, or the same member's second request) gets a write conflict, which
`with_transaction` retries from the start with a fresh snapshot.

Writers for HTTP requests check core first (`internal.references`, outside the transaction:
a slow core must not hold a transaction open); the event handlers and reconcile repairs at the
bottom run inside the caller's transaction and write only through its session.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Final, TypeVar

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from alephdraad_contracts import CONFLICT, new_ulid
from alephdraad_feature.internal.errors import ThreadNotFound
from alephdraad_feature.platform.db import collection_in_session
from alephdraad_feature.platform.errors import DomainError
from alephdraad_feature.reactions.errors import ReactionTypeUnknown
from alephdraad_feature.reactions.models import REACTION_ID_PREFIX, REACTION_TYPES, Reaction
from alephdraad_feature.reactions.schemas import ReactionCounts, ReactionSummary
from alephdraad_feature.reactions.selectors import check_thread_not_hidden
from alephdraad_feature.threads.schemas import MAX_THREAD_ID
from alephdraad_feature.threads.selectors import get_thread_stats_in_session
from alephdraad_feature.threads.stats import do_count_reaction, do_set_thread_hidden

T = TypeVar("T")

# A duplicate key on the unique {threadId, userId} index means another request of the same
# member inserted first and committed; the next attempt sees that reaction and changes it. More
# than a few in a row means something keeps inserting and deleting it: give up with a 409.
_DUPLICATE_KEY_ATTEMPTS: Final = 5


class ReactionConflict(DomainError):
    """The member's reaction kept changing under this request (their other requests)."""

    problem_type = CONFLICT


def check_reaction_type(value: str) -> str:
    """`value` if it is one of REACTION_TYPES, exactly as the API documents them (lower
    case: the original also took "LIKE", but the published enum is the contract), else 422
    REACTION_TYPE_UNKNOWN listing the allowed ones."""
    if value not in REACTION_TYPES:
        raise ReactionTypeUnknown()
    return value


def check_thread_id(thread_id: int) -> int:
    """Core's thread ids are positive 64-bit integers: any other number names no thread (and
    could not even be stored or sent to core), so it is a 404 without asking anyone."""
    if not 1 <= thread_id <= MAX_THREAD_ID:
        raise ThreadNotFound(f"Thread {thread_id} does not exist.")
    return thread_id


async def _in_transaction(
    client: AsyncMongoClient[dict[str, Any]],
    change: Callable[[AsyncClientSession], Awaitable[T]],
) -> T:
    """Run `change` in a transaction; write conflicts are retried by `with_transaction`
    (their TransientTransactionError label), duplicate keys here (see above)."""
    for _ in range(_DUPLICATE_KEY_ATTEMPTS):
        async with client.start_session() as session:
            try:
                return await session.with_transaction(change)
            except DuplicateKeyError:
                continue
    raise ReactionConflict("Your reaction changed while this request ran; try again.")


async def do_set_reaction(
    client: AsyncMongoClient[dict[str, Any]],
    *,
    thread_id: int,
    user_id: int,
    reaction_type: str,
    now: datetime,
) -> ReactionSummary:
    """Set or change the member's reaction; the thread's summary as committed.

    Idempotent: the same type again writes nothing. A new reaction counts +1 of its type; a
    changed one -1 of the old type and +1 of the new. The caller has checked with core that
    the thread is live and the member active; `thread_stats.hidden` (thread.deleted already
    handled here) is checked again inside the transaction, which closes the window of a
    cached "live" answer. Opens its own transaction."""
    thread_key = str(thread_id)

    async def change(session: AsyncClientSession) -> ReactionSummary:
        stats = await get_thread_stats_in_session(session, thread_id)
        check_thread_not_hidden(thread_id, stats)
        counts = Counter(
            ReactionCounts.from_stored(stats and stats.get("reactionCounts")).model_dump()
        )
        reactions = collection_in_session(Reaction, session)
        existing = await reactions.find_one(
            {"threadId": thread_key, "userId": user_id}, {"type": 1}, session=session
        )
        if existing is None:
            await reactions.insert_one(
                {
                    "_id": REACTION_ID_PREFIX + new_ulid(now),
                    "threadId": thread_key,
                    "userId": user_id,
                    "type": reaction_type,
                    "createdAt": now,
                    "updatedAt": now,
                    "hidden": False,
                },
                session=session,
            )
            await do_count_reaction(session, thread_id, reaction_type, +1)
            counts[reaction_type] += 1
        elif existing["type"] != reaction_type:
            old_type = existing["type"]
            await reactions.update_one(
                {"_id": existing["_id"]},
                {"$set": {"type": reaction_type, "updatedAt": now}},
                session=session,
            )
            await do_count_reaction(session, thread_id, old_type, -1)
            await do_count_reaction(session, thread_id, reaction_type, +1)
            if old_type in counts:
                counts[old_type] = max(0, counts[old_type] - 1)
            counts[reaction_type] += 1
        # The snapshot read above plus our own moves is exactly what the document holds at
        # commit: had anyone else changed it since, our $inc would have conflicted and this
        # function would be running again on a newer snapshot.
        return ReactionSummary.build(ReactionCounts(**counts), reaction_type)

    return await _in_transaction(client, change)


async def do_remove_reaction(
    client: AsyncMongoClient[dict[str, Any]], *, thread_id: int, user_id: int
) -> bool:
    """Remove the member's reaction (-1 of its type); False when there was none (nothing is
    written then). The caller has checked core as for `do_set_reaction`. Opens its own
    transaction."""

    async def change(session: AsyncClientSession) -> bool:
        check_thread_not_hidden(thread_id, await get_thread_stats_in_session(session, thread_id))
        removed = await collection_in_session(Reaction, session).find_one_and_delete(
            {"threadId": str(thread_id), "userId": user_id}, {"type": 1}, session=session
        )
        if removed is None:
            return False
        await do_count_reaction(session, thread_id, removed["type"], -1)
        return True

    return await _in_transaction(client, change)


# ---- effects of core's events (and reconcile's repairs), inside the caller's transaction -------


async def do_hide_reactions_of_thread(thread_id: int, session: AsyncClientSession) -> None:
    """thread.deleted: hide the thread's reactions (kept, and still counted, for a restore).
    Expects the caller's open transaction."""
    await collection_in_session(Reaction, session).update_many(
        {"threadId": str(thread_id), "hidden": {"$ne": True}},
        {"$set": {"hidden": True}},
        session=session,
    )


async def do_show_reactions_of_thread(thread_id: int, session: AsyncClientSession) -> None:
    """thread.restored: show the thread's reactions again. Expects an open transaction."""
    await collection_in_session(Reaction, session).update_many(
        {"threadId": str(thread_id), "hidden": True},
        {"$set": {"hidden": False}},
        session=session,
    )


async def do_hide_reactions_of_orphaned_thread(thread_id: int, session: AsyncClientSession) -> None:
    """Reconcile's repair for a thread core does not have (or deleted): what thread.deleted
    does here, i.e. this domain's `do_hide_reactions_of_thread` plus the `hidden` flag the
    threads domain sets on `thread_stats` for that event (reconcile runs only this repair).
    Expects an open transaction."""
    await do_hide_reactions_of_thread(thread_id, session)
    await do_set_thread_hidden(session, thread_id, hidden=True)


async def do_remove_reactions_of_user(user_id: int, session: AsyncClientSession) -> None:
    """user.deleted (and reconcile's repair of a user core no longer has): remove every
    reaction of the member and take each off its thread's counters. Expects the caller's open
    transaction: exactly the reactions read are deleted (by id) and counted down, in one
    snapshot."""
    reactions = collection_in_session(Reaction, session)
    found = [
        document
        async for document in reactions.find(
            {"userId": user_id}, {"threadId": 1, "type": 1}, session=session
        )
    ]
    if not found:
        return
    await reactions.delete_many({"_id": {"$in": [d["_id"] for d in found]}}, session=session)
    # One reaction per member per thread, so one counter move per reaction removed.
    for document in found:
        thread_id = int(document["threadId"])
        await do_count_reaction(session, thread_id, document["type"], -1)
