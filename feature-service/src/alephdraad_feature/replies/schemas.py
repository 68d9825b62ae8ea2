"""Request and response shapes of the replies API (snake_case, DESIGN section 3)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from alephdraad_feature.internal.lookups import ReplyId

ReplySort = Literal["oldest", "newest"]

CONTENT_MAX_LENGTH = 5000

_CONTENT_DESCRIPTION = (
    f"Plain text, 1 to {CONTENT_MAX_LENGTH} characters once leading and trailing white space is "
    "trimmed. Stored as typed (CR LF and lone CR become LF) and returned as the same text: "
    "never HTML, so clients must render it as text (a `<script>` stays the characters "
    "`<script>`). Control characters other than line feed and tab are refused (422)."
)


class ReplyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content: str = Field(description=_CONTENT_DESCRIPTION, examples=["Same here: it worked."])
    parent_reply_id: ReplyId | None = Field(
        default=None,
        description=(
            "Answer this reply instead of the thread: a live reply of the same thread at depth "
            "0 to 2 (the new reply is one level deeper; levels 0 to 3)."
        ),
        examples=[None],
    )


class ReplyEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content: str = Field(description=_CONTENT_DESCRIPTION, examples=["Same here: it worked!"])


class ReplyOut(BaseModel):
    """A reply. A deleted reply that still has visible children is a tombstone: `deleted`
    true and `content`, `user_id`, `username` and `edited_at` null. A reply whose author
    deleted their account has `author_deleted` true and null `user_id` and `username`."""

    id: str = Field(examples=["rpl_01KAZ3QF0V8M2N4P6R8S9T0W1X"])
    thread_id: int = Field(examples=[123])
    parent_reply_id: str | None = Field(examples=[None])
    depth: int = Field(ge=0, le=3, examples=[0])
    user_id: int | None = Field(examples=[456])
    username: str | None = Field(examples=["budi_santoso"])
    content: str | None = Field(examples=["Same here: it worked."])
    child_count: int = Field(
        description="Direct children a reader can see (page them with ?parent_reply_id=).",
        examples=[2],
    )
    created_at: datetime
    edited_at: datetime | None = Field(examples=[None])
    deleted: bool = Field(examples=[False])
    author_deleted: bool = Field(examples=[False])


class ReplyPage(BaseModel):
    """One page of one level of a thread's replies."""

    items: list[ReplyOut]
    next_cursor: str | None = Field(
        description="Pass as ?cursor= (with the same other parameters) for the next page; null "
        "on the last page.",
        examples=[None],
    )
