"""Changing replies. Every change that touches more than one document (the reply, its parent's
`childCount`, the thread's counters, the outbox) runs in one MongoDB transaction, so a failure
at any step leaves nothing half-written, and concurrent changes to the same parent or thread
conflict and are retried by the driver (`with_transaction`) instead of losing an increment.

Content is plain text (issue 8 allows plain text or a Markdown subset; plain text is the
choice). It is stored as typed and clients render it as text, so nothing executable can
survive: the service never produces HTML, and there is no markup to sanitise or to get wrong.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection

from alephdraad_contracts import new_ulid
from alephdraad_feature.internal.errors import ThreadNotFound
from alephdraad_feature.platform.db import collection_in_session
from alephdraad_feature.replies.errors import (
    InvalidReplyContent,
    ParentNotInThread,
    ReplyNotFound,
    ReplyTooDeep,
)
from alephdraad_feature.replies.events import emit_reply_deleted
from alephdraad_feature.replies.models import MAX_DEPTH, Reply
from alephdraad_feature.replies.schemas import CONTENT_MAX_LENGTH
from alephdraad_feature.replies.selectors import ReplyRecord
from alephdraad_feature.threads.models import ThreadStats
from alephdraad_feature.threads.schemas import MAX_THREAD_ID
from alephdraad_feature.threads.stats import do_count_reply

REPLY_ID_PREFIX = "rpl_"
# Line feed and tab are text; every other C0/C1 control character (NUL, escape sequences that
# repaint a terminal, the bell…) is refused rather than stored.
_ALLOWED_CONTROLS = frozenset("\n\t")


@dataclass(frozen=True, slots=True)
class ReplyActor:
    """Who deletes a reply: its author, or an admin (moderation)."""

    kind: Literal["user", "admin"]
    id: int

    def as_event_actor(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id}


def check_thread_id(thread_id: int) -> int:
    """Core's thread ids are positive 64-bit integers (PostgreSQL bigints): any other number
    names no thread and could not even be stored in MongoDB or sent to core, so it is 404
    THREAD_NOT_FOUND at once, asking no one."""
    if not 1 <= thread_id <= MAX_THREAD_ID:
        raise ThreadNotFound(f"Thread {thread_id} does not exist.")
    return thread_id


def check_reply_content(raw: str) -> str:
    """The content to store: CR LF and lone CR folded to LF, trimmed; 422 unless 1 to 5000
    characters (code points) remain and none is a control character other than LF and tab or
    an unpaired surrogate (which MongoDB could not store as UTF-8)."""
    text = raw.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        raise InvalidReplyContent("Must not be empty (white space alone does not count).")
    if len(text) > CONTENT_MAX_LENGTH:
        raise InvalidReplyContent(
            f"At most {CONTENT_MAX_LENGTH} characters (this has {len(text)} once trimmed)."
        )
    for position, character in enumerate(text):
        category = unicodedata.category(character)
        if (category == "Cc" and character not in _ALLOWED_CONTROLS) or category == "Cs":
            raise InvalidReplyContent(
                f"Control character U+{ord(character):04X} at position {position} is not "
                "allowed (only line feed and tab)."
            )
    return text


async def _read(
    replies: AsyncCollection[dict[str, Any]],
    session: AsyncClientSession,
    reply_id: str,
    *fields: str,
) -> dict[str, Any]:
    """A reply as the transaction sees it (its own writes included), after an update_one
    changed it. Update, then read, rather than find_one_and_update: both are plain `_id`
    lookups on every server (the embedded test server scans the collection for findAndModify).
    """
    projection = dict.fromkeys(fields, 1) if fields else None
    document = await replies.find_one({"_id": reply_id}, projection, session=session)
    if document is None:  # pragma: no cover - the update just matched it in this transaction
        raise RuntimeError(f"reply {reply_id} vanished inside its transaction")
    return document


def _millisecond(moment: datetime) -> datetime:
    """BSON dates hold milliseconds: truncate first, so what we answer is what we stored (and
    what cursors compare against)."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def new_reply_document(
    reply_id: str,
    *,
    thread_id: int,
    user_id: int,
    username: str | None,
    content: str,
    parent_reply_id: str | None,
    depth: int,
    created_at: datetime,
) -> dict[str, Any]:
    """A new reply as stored in `replies` (every field, so tests and provider states that
    write replies directly write the same shape)."""
    return {
        "_id": reply_id,
        "threadId": thread_id,
        "content": content,
        "userId": user_id,
        "username": username,
        "parentReplyId": parent_reply_id,
        "depth": depth,
        "childCount": 0,
        "isDeleted": False,
        "listed": True,
        "deletedAt": None,
        "deletedBy": None,
        "hidden": False,
        "authorDeleted": False,
        "createdAt": created_at,
        "updatedAt": created_at,
        "editedAt": None,
    }


async def do_create_reply(
    client: AsyncMongoClient[dict[str, Any]],
    *,
    thread_id: int,
    user_id: int,
    username: str,
    content: str,
    parent_reply_id: str | None,
    now: datetime,
) -> ReplyRecord:
    """Insert a reply (content already checked, thread and author already verified with core).

    One transaction: check the thread is not hidden here (a thread.deleted handled after core
    answered; reading thread_stats and then writing it makes a concurrent thread.deleted
    conflict with us), claim the parent (one `$inc` of its childCount, conditional on it
    being a live reply of the same thread), insert, count the reply in the thread's stats. A
    parent deleted concurrently conflicts on the parent's document, so the driver's retry
    sees it deleted and answers 422; a refused depth aborts the transaction, undoing the
    parent's increment."""
    created_at = _millisecond(now)
    reply_id = REPLY_ID_PREFIX + new_ulid(created_at)

    async def create(session: AsyncClientSession) -> dict[str, Any]:
        stats = await collection_in_session(ThreadStats, session).find_one(
            {"_id": thread_id}, {"hidden": 1}, session=session
        )
        if stats is not None and stats.get("hidden"):
            raise ThreadNotFound(f"Thread {thread_id} does not exist or was deleted.")
        replies = collection_in_session(Reply, session)
        depth = 0
        if parent_reply_id is not None:
            claimed = await replies.update_one(
                {
                    "_id": parent_reply_id,
                    "threadId": thread_id,
                    "isDeleted": False,
                    "hidden": False,
                },
                {"$inc": {"childCount": 1}},
                session=session,
            )
            if claimed.matched_count == 0:
                raise ParentNotInThread(
                    f"{parent_reply_id} is not a live reply of thread {thread_id}."
                )
            parent = await _read(replies, session, parent_reply_id, "depth")
            depth = int(parent["depth"]) + 1
            if depth > MAX_DEPTH:
                # Raising aborts the transaction: the parent's increment is undone.
                raise ReplyTooDeep(
                    f"{parent_reply_id} is at depth {MAX_DEPTH}, the deepest level; answer "
                    "its parent instead."
                )
        document = new_reply_document(
            reply_id,
            thread_id=thread_id,
            user_id=user_id,
            username=username,
            content=content,
            parent_reply_id=parent_reply_id,
            depth=depth,
            created_at=created_at,
        )
        # A copy per attempt: insert_one would otherwise see the _id it set on a retry.
        await replies.insert_one(dict(document), session=session)
        await do_count_reply(session, thread_id, 1, replied_at=created_at)
        return document

    async with client.start_session() as session:
        document = await session.with_transaction(create)
    return ReplyRecord.from_document(document)


async def do_edit_reply(
    client: AsyncMongoClient[dict[str, Any]], reply: ReplyRecord, *, content: str, now: datetime
) -> ReplyRecord:
    """Replace the content of a reply `access_own_reply` returned. The filter repeats the
    access conditions, so a reply deleted or hidden since it was read is not edited (404); the
    answer is read in the same transaction, so it is exactly what this edit wrote."""
    moment = _millisecond(now)

    async def edit(session: AsyncClientSession) -> dict[str, Any]:
        replies = collection_in_session(Reply, session)
        edited = await replies.update_one(
            {"_id": reply.id, "userId": reply.user_id, "isDeleted": False, "hidden": False},
            {"$set": {"content": content, "editedAt": moment, "updatedAt": moment}},
            session=session,
        )
        if edited.matched_count == 0:
            raise ReplyNotFound(f"Thread {reply.thread_id} has no reply {reply.id!r}.")
        return await _read(replies, session, reply.id)

    async with client.start_session() as session:
        document = await session.with_transaction(edit)
    return ReplyRecord.from_document(document)


async def do_delete_reply(
    client: AsyncMongoClient[dict[str, Any]],
    reply: ReplyRecord,
    *,
    actor: ReplyActor,
    now: datetime,
) -> None:
    """Soft-delete a reply an `access_*` selector returned, in one transaction: mark it
    deleted (only if it still is live: a concurrent delete makes this one 404), take it off the
    thread's reply count, update the listed-children counts up the branch, and write
    `reply.deleted` to the outbox for core (which clears an accepted answer naming it).

    Visibility: a deleted reply stays listed, as a tombstone, while it has listed children.
    If this one has none it is unlisted, so its parent loses a listed child; if that parent is
    itself a tombstone left with none, it is unlisted too, and so on up (at most 3 levels).
    Reading childCount and writing in one transaction makes a concurrent reply to the same
    reply conflict with us (both write its document), so the driver retries one of them."""
    moment = _millisecond(now)

    async def delete(session: AsyncClientSession) -> None:
        replies = collection_in_session(Reply, session)
        deleted = await replies.update_one(
            {"_id": reply.id, "isDeleted": False},
            {
                "$set": {
                    "isDeleted": True,
                    "deletedAt": moment,
                    "deletedBy": actor.as_event_actor(),
                    "updatedAt": moment,
                }
            },
            session=session,
        )
        if deleted.matched_count == 0:
            raise ReplyNotFound(f"Thread {reply.thread_id} has no reply {reply.id!r}.")
        await do_count_reply(session, reply.thread_id, -1)
        current = await _read(replies, session, reply.id, "childCount", "parentReplyId")
        unlisted_id: str | None = reply.id if int(current["childCount"]) <= 0 else None
        parent_id = current.get("parentReplyId")
        while unlisted_id is not None:
            await replies.update_one(
                {"_id": unlisted_id}, {"$set": {"listed": False}}, session=session
            )
            if parent_id is None:
                break
            await replies.update_one(
                {"_id": parent_id}, {"$inc": {"childCount": -1}}, session=session
            )
            parent = await _read(
                replies, session, parent_id, "childCount", "isDeleted", "parentReplyId"
            )
            tombstone_emptied = bool(parent["isDeleted"]) and int(parent["childCount"]) <= 0
            unlisted_id = parent_id if tombstone_emptied else None
            parent_id = parent.get("parentReplyId")
        await emit_reply_deleted(session, reply, actor=actor.as_event_actor(), now=now)

    async with client.start_session() as session:
        await session.with_transaction(delete)


# ---- what core's events do to replies (called by replies.consumers and reconcile) ------------


async def do_set_thread_replies_hidden(
    thread_id: int, session: AsyncClientSession, *, hidden: bool
) -> None:
    """Hide (thread.deleted) or show again (thread.restored) every reply of a thread. Deleted
    flags and counts are left alone, so a restore brings back exactly what was there; the
    thread's counters are hidden with the thread by threads.consumers. Idempotent."""
    await collection_in_session(Reply, session).update_many(
        {"threadId": thread_id, "hidden": not hidden},
        {"$set": {"hidden": hidden}},
        session=session,
    )


async def do_hide_replies_of_thread(thread_id: int, session: AsyncClientSession) -> None:
    """Reconcile's repair for a thread core no longer has (the same as thread.deleted)."""
    await do_set_thread_replies_hidden(thread_id, session, hidden=True)


async def do_rename_reply_author(user_id: int, username: str, session: AsyncClientSession) -> None:
    """Rewrite the username copied into the user's replies (user.renamed). An anonymised
    author stays anonymous. Idempotent."""
    await collection_in_session(Reply, session).update_many(
        {"userId": user_id, "authorDeleted": {"$ne": True}, "username": {"$ne": username}},
        {"$set": {"username": username}},
        session=session,
    )


async def do_anonymise_reply_author(user_id: int, session: AsyncClientSession) -> None:
    """The author's account was deleted (user.deleted, or reconcile for a user core no longer
    has): their replies stay, so the discussions around them keep making sense, but show no
    author any more ("deleted user"). `userId` is kept internally, never shown: it names no
    account any more, lets reconcile skip what is already anonymised, and lets a reply.deleted
    event still name the author core expects. Counts are unchanged (the replies stay).
    Idempotent."""
    await collection_in_session(Reply, session).update_many(
        {"userId": user_id, "authorDeleted": {"$ne": True}},
        {"$set": {"username": None, "authorDeleted": True}},
        session=session,
    )
