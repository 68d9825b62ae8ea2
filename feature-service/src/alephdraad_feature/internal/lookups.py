"""What the feature service tells core about its own ids: POST /internal/v1/lookup.

Core asks before it writes something that refers to a feature id (DESIGN section 5), e.g. a
thread's accepted answer must be a live reply of that thread. The answer is assembled from
sources the owning domains register here, so this module never imports a domain:

    @register_reply_source
    async def reply_states(reply_ids: Sequence[str]) -> Mapping[str, ReplyState]:
        ...  # one query for all ids; leave out the ids that do not exist

An id no source answers for is reported as `exists: false` (the replies domain registers the
source for `rpl_` ids: replies/consumers.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

# rpl_ + a ULID in Crockford base32 (DESIGN section 3).
REPLY_ID_PATTERN = r"^rpl_[0-9A-HJKMNP-TV-Z]{26}$"
# The most ids of one kind a single lookup may ask about (core's limit is the same).
LOOKUP_LIMIT = 100

ReplyId = Annotated[str, StringConstraints(pattern=REPLY_ID_PATTERN)]


class ReplyState(BaseModel):
    """What core needs to know about one reply."""

    exists: bool
    deleted: bool = False
    thread_id: int | None = None
    author_id: int | None = None


MISSING_REPLY = ReplyState(exists=False, deleted=False, thread_id=None, author_id=None)


class LookupRequest(BaseModel):
    """Ids core asks about; every list is optional (an empty request gets empty maps)."""

    model_config = ConfigDict(extra="forbid")

    reply_ids: list[ReplyId] = Field(default_factory=list, max_length=LOOKUP_LIMIT)


class LookupResponse(BaseModel):
    """One entry per distinct id asked about, keyed by the id."""

    replies: dict[str, ReplyState]


ReplySource = Callable[[Sequence[str]], Awaitable[Mapping[str, ReplyState]]]

_REPLY_SOURCES: list[ReplySource] = []


def register_reply_source(source: ReplySource) -> ReplySource:
    """Plug a domain's reply reader into the lookup (usable as a decorator)."""
    if source not in _REPLY_SOURCES:
        _REPLY_SOURCES.append(source)
    return source


def unregister_reply_source(source: ReplySource) -> None:
    """Take a source out again (tests that register their own)."""
    if source in _REPLY_SOURCES:
        _REPLY_SOURCES.remove(source)


async def lookup_replies(reply_ids: Sequence[str]) -> dict[str, ReplyState]:
    """The state of each distinct id, `exists: false` for those no source knows."""
    wanted = list(dict.fromkeys(reply_ids))
    found: dict[str, ReplyState] = {}
    for source in _REPLY_SOURCES:
        unanswered = [reply_id for reply_id in wanted if reply_id not in found]
        if not unanswered:
            break
        answered = await source(unanswered)
        found.update({k: v for k, v in answered.items() if k in unanswered})
    return {reply_id: found.get(reply_id, MISSING_REPLY) for reply_id in wanted}


async def answer_lookup(request: LookupRequest) -> LookupResponse:
    """Answer core's POST /internal/v1/lookup."""
    return LookupResponse(replies=await lookup_replies(request.reply_ids))
