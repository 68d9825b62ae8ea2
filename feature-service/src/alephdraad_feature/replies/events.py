"""What the replies domain publishes to core-service through the outbox.

`reply.deleted` (contracts: `{reply_id, thread_id, author_id, actor}`): written in the delete's
own transaction (`outbox.services.emit_event`), so core hears of exactly the deletions that
committed; core clears a thread's accepted answer that named the reply.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pymongo.asynchronous.client_session import AsyncClientSession

from alephdraad_contracts import REPLY_DELETED
from alephdraad_feature.outbox.services import emit_event

if TYPE_CHECKING:
    from alephdraad_feature.replies.selectors import ReplyRecord


async def emit_reply_deleted(
    session: AsyncClientSession,
    reply: ReplyRecord,
    *,
    actor: Mapping[str, Any],
    now: datetime | None = None,
) -> dict[str, Any]:
    return await emit_event(
        session,
        REPLY_DELETED,
        {
            "reply_id": reply.id,
            "thread_id": reply.thread_id,
            "author_id": reply.user_id,
            "actor": dict(actor),
        },
        now=now,
    )
