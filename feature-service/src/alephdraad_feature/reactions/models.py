"""`reactions`: one document per member per thread, with the seed's fields.

The seed's fields are kept as they are: `_id` (`rct_` + ULID), `threadId` (core's thread id as
a string of digits, as the seed stores it), `userId` (core's user id, an int), `type` and
`createdAt`. Two fields are ours: `updatedAt` (when the type last changed) and `hidden` (the
thread was deleted in core; restorable, so the reaction is kept, not removed).
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Final, Literal, get_args

from beanie import Document
from pydantic import ConfigDict, Field
from pymongo import ASCENDING, IndexModel

ReactionType = Literal["like", "love", "fire", "sad", "laugh"]
# In the order every response lists them.
REACTION_TYPES: Final[tuple[str, ...]] = get_args(ReactionType)
REACTION_ID_PREFIX: Final = "rct_"


class Reaction(Document):
    model_config = ConfigDict(populate_by_name=True)

    id: str  # type: ignore[assignment]  # rct_ + ULID, not an ObjectId
    thread_id: str = Field(alias="threadId")
    user_id: int = Field(alias="userId")
    type: ReactionType
    created_at: datetime = Field(alias="createdAt")
    updated_at: datetime = Field(alias="updatedAt")
    # Set by thread.deleted, cleared by thread.restored; the counters in thread_stats keep
    # counting hidden reactions, so a restore only flips flags.
    hidden: bool = False

    class Settings:
        name = "reactions"
        indexes: ClassVar[list[IndexModel]] = [
            # One reaction per member per thread, enforced by the server (the seed's unique
            # index): two concurrent first reactions of one member cannot both be stored.
            IndexModel(
                [("threadId", ASCENDING), ("userId", ASCENDING)],
                name="threadId_userId_unique",
                unique=True,
            ),
            # The seed's index: a thread's reactions of one type (recounting a thread).
            IndexModel([("threadId", ASCENDING), ("type", ASCENDING)], name="threadId_type"),
            # A member's reactions: user.deleted, the deletion check's holdings, reconcile.
            IndexModel([("userId", ASCENDING)], name="userId"),
        ]
