"""Reading replies: pages of one level of a thread, the replies an actor may act on, and what
core and the deletion check ask about.

Handlers never fetch a reply by raw id: `access_own_reply` (the author) and
`access_reply_as_admin` return it only if that actor may act on it, and otherwise raise
REPLY_NOT_FOUND, exactly as for an id that does not exist (DESIGN section 10).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from alephdraad_feature.internal.lookups import REPLY_ID_PATTERN, ReplyState
from alephdraad_feature.platform.pagination import InvalidCursor, decode_cursor, encode_cursor
from alephdraad_feature.replies.errors import ReplyNotFound
from alephdraad_feature.replies.models import Reply
from alephdraad_feature.replies.schemas import ReplyOut, ReplySort

_REPLY_ID = re.compile(REPLY_ID_PATTERN)

# What a reader may see of a level: not hidden (thread deleted), and live or a tombstone.
VISIBLE: Mapping[str, Any] = {"hidden": False, "listed": True}


@dataclass(frozen=True, slots=True)
class ReplyRecord:
    """A `replies` document as the domain uses it (Beanie documents cannot be built from raw
    pymongo results without binding; this is the plain view)."""

    id: str
    thread_id: int
    content: str
    user_id: int
    username: str | None
    parent_reply_id: str | None
    depth: int
    child_count: int
    is_deleted: bool
    hidden: bool
    author_deleted: bool
    created_at: datetime
    updated_at: datetime
    edited_at: datetime | None

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> ReplyRecord:
        return cls(
            id=document["_id"],
            thread_id=int(document["threadId"]),
            content=document["content"],
            user_id=int(document["userId"]),
            username=document.get("username"),
            parent_reply_id=document.get("parentReplyId"),
            depth=int(document.get("depth", 0)),
            child_count=int(document.get("childCount", 0)),
            is_deleted=bool(document.get("isDeleted", False)),
            hidden=bool(document.get("hidden", False)),
            author_deleted=bool(document.get("authorDeleted", False)),
            created_at=document["createdAt"],
            updated_at=document.get("updatedAt", document["createdAt"]),
            edited_at=document.get("editedAt"),
        )

    def as_output(self) -> ReplyOut:
        """The API view: a tombstone reveals neither text nor author; an anonymised reply
        keeps its text but not its author."""
        if self.is_deleted:
            return ReplyOut(
                id=self.id,
                thread_id=self.thread_id,
                parent_reply_id=self.parent_reply_id,
                depth=self.depth,
                user_id=None,
                username=None,
                content=None,
                child_count=self.child_count,
                created_at=self.created_at,
                edited_at=None,
                deleted=True,
                author_deleted=False,
            )
        return ReplyOut(
            id=self.id,
            thread_id=self.thread_id,
            parent_reply_id=self.parent_reply_id,
            depth=self.depth,
            user_id=None if self.author_deleted else self.user_id,
            username=None if self.author_deleted else self.username,
            content=self.content,
            child_count=self.child_count,
            created_at=self.created_at,
            edited_at=self.edited_at,
            deleted=False,
            author_deleted=self.author_deleted,
        )


def is_reply_id(value: str) -> bool:
    return _REPLY_ID.fullmatch(value) is not None


async def _find_reply(thread_id: int, reply_id: str, **conditions: Any) -> ReplyRecord:
    if not is_reply_id(reply_id):
        raise ReplyNotFound(f"Thread {thread_id} has no reply {reply_id!r}.")
    document = await Reply.get_pymongo_collection().find_one(
        {"_id": reply_id, "threadId": thread_id, "isDeleted": False, **conditions}
    )
    if document is None:
        raise ReplyNotFound(f"Thread {thread_id} has no reply {reply_id!r}.")
    return ReplyRecord.from_document(document)


async def access_own_reply(user_id: int, thread_id: int, reply_id: str) -> ReplyRecord:
    """The caller's own live reply in this thread, else REPLY_NOT_FOUND. Replies of a deleted
    thread (hidden) are frozen: the author can neither edit nor delete them until the thread is
    restored, when they come back exactly as they were."""
    return await _find_reply(thread_id, reply_id, userId=user_id, hidden=False)


async def access_reply_as_admin(thread_id: int, reply_id: str) -> ReplyRecord:
    """Any live reply of the thread (also of a deleted thread: moderation may remove it)."""
    return await _find_reply(thread_id, reply_id)


async def check_listed_parent(thread_id: int, parent_reply_id: str) -> None:
    """REPLY_NOT_FOUND unless the reply whose children are asked for is one a reader can see
    in this thread (live, or a tombstone)."""
    found = is_reply_id(parent_reply_id) and await Reply.get_pymongo_collection().count_documents(
        {"_id": parent_reply_id, "threadId": thread_id, **VISIBLE}, limit=1
    )
    if not found:
        raise ReplyNotFound(f"Thread {thread_id} has no reply {parent_reply_id!r}.")


@dataclass(frozen=True, slots=True)
class ReplyPageResult:
    items: list[ReplyRecord]
    next_cursor: str | None


def _page_scope(thread_id: int, parent_reply_id: str | None, sort: ReplySort) -> str:
    return f"replies:{thread_id}:{parent_reply_id or '-'}:{sort}"


def _cursor_position(cursor: str, scope: str) -> str:
    position = decode_cursor(cursor, scope)
    if len(position) != 1 or not isinstance(position[0], str) or not is_reply_id(position[0]):
        raise InvalidCursor()
    return position[0]


async def replies_page(
    thread_id: int,
    *,
    parent_reply_id: str | None,
    sort: ReplySort,
    limit: int,
    cursor: str | None,
) -> ReplyPageResult:
    """One page of one level: the thread's top-level replies, or the children of one reply,
    in creation order, which is id order (ids are ULIDs made from `createdAt`, ties broken by
    their random part). One query, equality on threadId_parentReplyId_hidden_listed_id and a
    range on `_id` after the cursor's id; one item more than asked tells whether another page
    follows.

    Hidden replies (their thread was deleted) are never listed, so a deleted thread, like one
    core never had, lists as an empty page: listing is public and never asks core."""
    scope = _page_scope(thread_id, parent_reply_id, sort)
    ascending = sort == "oldest"
    query: dict[str, Any] = {"threadId": thread_id, "parentReplyId": parent_reply_id, **VISIBLE}
    if cursor:
        query["_id"] = {"$gt" if ascending else "$lt": _cursor_position(cursor, scope)}
    documents = (
        await Reply.get_pymongo_collection()
        .find(query)
        .sort("_id", 1 if ascending else -1)
        .limit(limit + 1)
        .to_list()
    )
    items = [ReplyRecord.from_document(document) for document in documents[:limit]]
    next_cursor = None
    if len(documents) > limit:
        next_cursor = encode_cursor(scope, [items[-1].id])
    return ReplyPageResult(items=items, next_cursor=next_cursor)


async def reply_states(reply_ids: Sequence[str]) -> dict[str, ReplyState]:
    """What core's lookup asks about replies, in one query; ids that do not exist are left out
    (the lookup reports them `exists: false`). A reply of a deleted thread still exists and is
    not deleted: whether its thread is live is core's own knowledge."""
    collection = Reply.get_pymongo_collection()
    projection = {"threadId": 1, "userId": 1, "isDeleted": 1}
    return {
        document["_id"]: ReplyState(
            exists=True,
            deleted=bool(document.get("isDeleted", False)),
            thread_id=int(document["threadId"]),
            author_id=int(document["userId"]),
        )
        async for document in collection.find({"_id": {"$in": list(reply_ids)}}, projection)
    }


async def count_live_replies_of_user(user_id: int) -> int:
    """The user's replies that are not deleted (the deletion check's `replies` holding)."""
    return await Reply.get_pymongo_collection().count_documents(
        {"userId": user_id, "isDeleted": False}
    )
