"""Writing to the outbox: `emit_event` (in the caller's transaction) and operator retries."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession

from alephdraad_contracts import current_request_id, make_event
from alephdraad_feature.internal.signing import utc_now
from alephdraad_feature.outbox.models import DEAD, DELIVERED, PENDING, OutboxEvent
from alephdraad_feature.platform.db import collection_in_session
from alephdraad_feature.settings import SERVICE_NAME


class NotInTransaction(RuntimeError):
    """`emit_event` was called with a session that has no transaction open: the event could be
    kept while the change is lost (or the reverse), which the outbox exists to prevent."""


async def emit_event(
    session: AsyncClientSession,
    event_type: str,
    data: Mapping[str, Any],
    *,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Add an event to the outbox inside the caller's open transaction; return its envelope.

    The envelope is built and validated by contracts' `make_event` (a known type at its current
    version, `data` following its schema; `EventInvalid` otherwise, before anything is written).
    It is delivered only if the caller's transaction commits:

        async def change(session):
            await Reply.get_pymongo_collection().update_one(..., session=session)
            await emit_event(session, "reply.deleted", {...})
        await session.with_transaction(change)
    """
    if not session.in_transaction:
        raise NotInTransaction("emit_event needs a session with an open transaction")
    moment = now if now is not None else utc_now()
    envelope = make_event(event_type, data, producer=SERVICE_NAME, now=moment)
    await collection_in_session(OutboxEvent, session).insert_one(
        {
            "_id": envelope["id"],
            "type": envelope["type"],
            "version": envelope["version"],
            "occurredAt": moment,
            "envelope": envelope,
            "status": PENDING,
            "attempts": 0,
            "nextAttemptAt": moment,
            "leaseOwner": None,
            "leaseUntil": None,
            "lastError": None,
            "deliveredAt": None,
            "requestId": current_request_id(),
        },
        session=session,
    )
    return envelope


async def do_retry_events(
    event_ids: Sequence[str] = (), *, all_dead: bool = False, now: datetime | None = None
) -> dict[str, str]:
    """Make dead (or waiting) events due again, with a fresh backoff. Returns what became of
    each id asked for: `retrying`, `delivered` (left alone) or `unknown`; with `all_dead`,
    every dead event is retried and listed.

    No lease is taken: an event a dispatcher holds right now keeps its lease, and only its due
    time and attempt count are reset."""
    moment = now if now is not None else utc_now()
    collection = OutboxEvent.get_pymongo_collection()
    reset = {"$set": {"status": PENDING, "nextAttemptAt": moment, "attempts": 0}}
    outcome: dict[str, str] = {}
    if all_dead:
        async for document in collection.find({"status": DEAD}, {"_id": 1}).sort("_id", 1):
            outcome[document["_id"]] = "retrying"
        if outcome:
            await collection.update_many({"_id": {"$in": list(outcome)}, "status": DEAD}, reset)
    for event_id in event_ids:
        result = await collection.update_one(
            {"_id": event_id, "status": {"$in": [PENDING, DEAD]}}, reset
        )
        if result.matched_count:
            outcome[event_id] = "retrying"
        elif await collection.count_documents({"_id": event_id, "status": DELIVERED}, limit=1):
            outcome[event_id] = "delivered"
        else:
            outcome[event_id] = "unknown"
    return outcome
