"""What core's events do to reactions, and how the rest of the service finds this domain's
references to core ids (reconcile) and holdings of a user (the deletion check).

Handlers run in the transaction that records the event (`internal.events`), so the effect,
its counter moves and the record commit together, and a redelivery changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession

from alephdraad_contracts import THREAD_DELETED, THREAD_RESTORED, USER_DELETED
from alephdraad_feature.internal.events import register_event_handler
from alephdraad_feature.internal.holdings import register_holding
from alephdraad_feature.internal.reconcile import ReferenceSource, register_reference_source
from alephdraad_feature.reactions.selectors import count_reactions_of_user
from alephdraad_feature.reactions.services import (
    do_hide_reactions_of_orphaned_thread,
    do_hide_reactions_of_thread,
    do_remove_reactions_of_user,
    do_show_reactions_of_thread,
)


@register_event_handler(THREAD_DELETED)
async def hide_reactions_of_deleted_thread(
    data: Mapping[str, Any], session: AsyncClientSession
) -> None:
    await do_hide_reactions_of_thread(int(data["thread_id"]), session)


@register_event_handler(THREAD_RESTORED)
async def show_reactions_of_restored_thread(
    data: Mapping[str, Any], session: AsyncClientSession
) -> None:
    await do_show_reactions_of_thread(int(data["thread_id"]), session)


@register_event_handler(USER_DELETED)
async def remove_reactions_of_deleted_user(
    data: Mapping[str, Any], session: AsyncClientSession
) -> None:
    await do_remove_reactions_of_user(int(data["user_id"]), session)


# The deletion check reports how many reactions a member holds; reactions never block it.
register_holding("reactions", count_reactions_of_user)

register_reference_source(
    ReferenceSource(
        name="reactions.thread",
        collection="reactions",
        field="threadId",
        kind="thread",
        # Hidden reactions were repaired already (or hidden by thread.deleted).
        match={"hidden": {"$ne": True}},
        repair=do_hide_reactions_of_orphaned_thread,
    )
)
register_reference_source(
    ReferenceSource(
        name="reactions.user",
        collection="reactions",
        field="userId",
        kind="user",
        # The same function user.deleted runs: remove them and count them down.
        repair=do_remove_reactions_of_user,
    )
)
