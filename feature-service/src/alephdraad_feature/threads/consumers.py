"""What core's thread events do to the counters: a deleted thread is hidden from lists, a
restored one shown again (replies and reactions hide themselves in their own handlers)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession

from alephdraad_contracts import THREAD_DELETED, THREAD_RESTORED
from alephdraad_feature.internal.events import register_event_handler
from alephdraad_feature.threads.stats import do_set_thread_hidden


@register_event_handler(THREAD_DELETED)
async def hide_deleted_thread(data: Mapping[str, Any], session: AsyncClientSession) -> None:
    await do_set_thread_hidden(session, int(data["thread_id"]), hidden=True)


@register_event_handler(THREAD_RESTORED)
async def show_restored_thread(data: Mapping[str, Any], session: AsyncClientSession) -> None:
    await do_set_thread_hidden(session, int(data["thread_id"]), hidden=False)
