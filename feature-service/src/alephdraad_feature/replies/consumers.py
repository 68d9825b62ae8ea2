"""Everything through which core-service reaches the replies: its events, its lookup of reply
ids, the deletion check's holdings, and reconcile's reference sources. Imported by
`alephdraad_feature.consumers` (the web process and `manage`), so all of it is registered
before the first event, lookup or reconcile run.

Event effects run inside the transaction that records the event (internal.events), write only
through its session, and are idempotent (`update_many` with conditions that a second run no
longer matches), so a retried transaction or a redelivery changes nothing more.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession

from alephdraad_contracts import THREAD_DELETED, THREAD_RESTORED, USER_DELETED, USER_RENAMED
from alephdraad_feature.internal.events import register_event_handler
from alephdraad_feature.internal.holdings import register_holding
from alephdraad_feature.internal.lookups import register_reply_source
from alephdraad_feature.internal.reconcile import ReferenceSource, register_reference_source
from alephdraad_feature.replies.models import Reply
from alephdraad_feature.replies.selectors import count_live_replies_of_user, reply_states
from alephdraad_feature.replies.services import (
    do_anonymise_reply_author,
    do_hide_replies_of_thread,
    do_rename_reply_author,
    do_set_thread_replies_hidden,
)


@register_event_handler(THREAD_DELETED)
async def hide_replies_of_deleted_thread(
    data: Mapping[str, Any], session: AsyncClientSession
) -> None:
    await do_set_thread_replies_hidden(int(data["thread_id"]), session, hidden=True)


@register_event_handler(THREAD_RESTORED)
async def show_replies_of_restored_thread(
    data: Mapping[str, Any], session: AsyncClientSession
) -> None:
    await do_set_thread_replies_hidden(int(data["thread_id"]), session, hidden=False)


@register_event_handler(USER_RENAMED)
async def rename_reply_author(data: Mapping[str, Any], session: AsyncClientSession) -> None:
    await do_rename_reply_author(int(data["user_id"]), str(data["username"]), session)


@register_event_handler(USER_DELETED)
async def anonymise_reply_author(data: Mapping[str, Any], session: AsyncClientSession) -> None:
    await do_anonymise_reply_author(int(data["user_id"]), session)


# Core's POST /internal/v1/lookup answers reply ids from here (accepted answers).
register_reply_source(reply_states)

# Counted in core's deletion check; replies never block a deletion (they are anonymised).
register_holding("replies", count_live_replies_of_user)

_REPLIES = Reply.Settings.name

# Replies of threads core no longer has (or deleted) that are still shown: hide them, like
# thread.deleted would have.
register_reference_source(
    ReferenceSource(
        name="replies.thread",
        collection=_REPLIES,
        field="threadId",
        kind="thread",
        repair=do_hide_replies_of_thread,
        match={"hidden": False},
    )
)

# Replies of users core no longer has (or deleted) that still name them: anonymise them, like
# user.deleted would have.
register_reference_source(
    ReferenceSource(
        name="replies.user",
        collection=_REPLIES,
        field="userId",
        kind="user",
        repair=do_anonymise_reply_author,
        match={"authorDeleted": {"$ne": True}},
    )
)
