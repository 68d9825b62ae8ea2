"""The `replies` collection: one document per reply to a core thread, nested up to depth 3.

The seed's fields (`_id`, `threadId`, `content`, `userId`, `username`, `parentReplyId`,
`depth`, `isDeleted`, `createdAt`, `updatedAt`) keep their names and meaning; the rest serves
the rules of issue 8. `threadId` and `userId` are core's integer ids (the seed's example wrote
the thread id as a string; core's ids are integers everywhere else in this service, e.g.
`thread_stats._id`, and reconcile accepts both spellings).

Handlers and services read and write the collection through pymongo (`platform.db`), in
transactions where several documents change together; this class declares the collection, its
fields and its indexes for `init_beanie`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from beanie import Document
from pydantic import ConfigDict, Field
from pymongo import ASCENDING, DESCENDING, IndexModel

# Levels 0 (a reply to the thread) to 3: a reply to a depth-3 reply is refused.
MAX_DEPTH = 3


class Reply(Document):
    model_config = ConfigDict(populate_by_name=True)

    id: str  # type: ignore[assignment]  # rpl_ + ULID
    thread_id: int = Field(alias="threadId")
    # Plain text as typed (trimmed, CR LF folded to LF); kept after a soft delete for
    # moderation, never shown once deleted.
    content: str
    # The author. Kept after the account is deleted (`authorDeleted`), so reconcile and an
    # operator can still tell whose it was; never shown then.
    user_id: int = Field(alias="userId")
    # A copy of the author's username at posting time, rewritten on user.renamed; null once the
    # author's account is deleted.
    username: str | None
    parent_reply_id: str | None = Field(default=None, alias="parentReplyId")
    depth: int = 0
    # Direct children a reader can see (`listed` ones): live replies, and deleted ones still
    # shown as tombstones because they have listed children themselves.
    child_count: int = Field(default=0, alias="childCount")
    is_deleted: bool = Field(default=False, alias="isDeleted")
    # Whether the reply belongs in its level's list (as long as its thread is not hidden):
    # live, or deleted with childCount > 0 (a tombstone). Kept by the writes that change
    # isDeleted or childCount, in their transaction, so a page query is equality on indexed
    # fields instead of an $or over isDeleted and childCount.
    listed: bool = True
    deleted_at: datetime | None = Field(default=None, alias="deletedAt")
    # {kind: user|admin, id} of whoever deleted it (the author or an admin).
    deleted_by: dict[str, Any] | None = Field(default=None, alias="deletedBy")
    # The thread was deleted in core (thread.deleted); thread.restored clears it. Independent of
    # isDeleted, so a restore brings back exactly what was there.
    hidden: bool = False
    # The author's account was deleted in core (user.deleted): shown as "deleted user".
    author_deleted: bool = Field(default=False, alias="authorDeleted")
    created_at: datetime = Field(alias="createdAt")
    # Any change to the document (edit, delete).
    updated_at: datetime = Field(alias="updatedAt")
    # The author's last edit of the content; null if never edited.
    edited_at: datetime | None = Field(default=None, alias="editedAt")

    class Settings:
        name = "replies"
        indexes: ClassVar[list[IndexModel]] = [
            # The seed's three indexes. threadId+createdAt also serves the thread.deleted /
            # thread.restored updates and reconcile's repair by thread; userId the renaming,
            # anonymising and counting of a user's replies; parentReplyId a reply's children.
            IndexModel(
                [("threadId", ASCENDING), ("createdAt", DESCENDING)], name="threadId_createdAt"
            ),
            IndexModel([("userId", ASCENDING)], name="userId"),
            IndexModel([("parentReplyId", ASCENDING)], name="parentReplyId"),
            # The listed replies of one level of one thread in id order, which is creation
            # order (an id is a ULID made from createdAt: its first 48 bits are that
            # millisecond, the random rest breaks ties): the keyset pages of GET
            # /threads/{id}/replies, equality on the first four fields and a range on _id,
            # read forwards for oldest first and backwards for newest first.
            IndexModel(
                [
                    ("threadId", ASCENDING),
                    ("parentReplyId", ASCENDING),
                    ("hidden", ASCENDING),
                    ("listed", ASCENDING),
                    ("_id", ASCENDING),
                ],
                name="threadId_parentReplyId_hidden_listed_id",
            ),
        ]
