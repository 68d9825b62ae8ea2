"""Events core-service delivers to POST /internal/v1/events, and what each one does here.

A domain gives an event type an effect by registering a handler:

    @register_event_handler(THREAD_DELETED)
    async def hide_replies_of_deleted_thread(
        data: Mapping[str, Any], session: AsyncClientSession
    ) -> None:
        await do_hide_replies_of_thread(data["thread_id"], session)

A handler runs inside the MongoDB transaction that records the event id in `handled_events`,
and must pass `session=session` to every write: the effect and the record commit together or
not at all, and a redelivered id (a duplicate key on the record) has no effect. A type may have
several handlers (the replies and the wallets domains both react to `user.deleted`); they run
in registration order. The transaction may be retried on a write conflict, so a handler must be
safe to run again from the start (no side effects outside the session besides dropping cache
entries).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any, Literal

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from alephdraad_contracts import (
    EVENT_VERSIONS,
    THREAD_DELETED,
    THREAD_MOVED,
    THREAD_RESTORED,
    USER_DELETED,
    USER_LOCKED,
    USER_RENAMED,
    USER_UNLOCKED,
    EventInvalid,
    ProblemFieldError,
    validate_event,
)
from alephdraad_feature.internal.core_client import (
    invalidate_thread,
    invalidate_user,
    invalidate_username,
)
from alephdraad_feature.internal.errors import EventDataInvalid, EventEnvelopeInvalid
from alephdraad_feature.internal.models import HandledEvent
from alephdraad_feature.platform.db import collection_in_session

logger = logging.getLogger("alephdraad_feature.internal")

EventHandler = Callable[[Mapping[str, Any], AsyncClientSession], Awaitable[None]]

_HANDLERS: dict[str, list[EventHandler]] = {}

# Added to a valid version to name one no schema exists for (see `check_event`).
_NO_SCHEMA_VERSION_OFFSET = 1_000_000


def register_event_handler(event_type: str) -> Callable[[EventHandler], EventHandler]:
    """Decorator: run the handler for every new event of `event_type` (a contracts type)."""
    if event_type not in EVENT_VERSIONS:
        raise ValueError(f"unknown event type {event_type!r}; add its schema to contracts first")

    def register(handler: EventHandler) -> EventHandler:
        handlers = _HANDLERS.setdefault(event_type, [])
        if handler not in handlers:
            handlers.append(handler)
        return handler

    return register


def unregister_event_handler(event_type: str, handler: EventHandler) -> None:
    """Take a handler out again (tests that register their own)."""
    handlers = _HANDLERS.get(event_type, [])
    if handler in handlers:
        handlers.remove(handler)


def handlers_for(event_type: str) -> tuple[EventHandler, ...]:
    return tuple(_HANDLERS.get(event_type, ()))


def _envelope_alone_is_valid(envelope: Mapping[str, Any]) -> bool:
    version = envelope.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        return False
    # contracts checks `data` only against the schema of the envelope's (type, version) and
    # checks just the envelope for a version without one; the envelope schema asks no more of
    # `version` than a positive integer, so this probe checks exactly the envelope.
    probe = {**envelope, "version": version + _NO_SCHEMA_VERSION_OFFSET}
    try:
        validate_event(probe)
    except EventInvalid:
        return False
    return True


def check_event(envelope: Mapping[str, Any]) -> datetime:
    """Validate a received envelope with the contracts schemas; return its `occurred_at`.

    Raises `EventEnvelopeInvalid` (400) when it is not an envelope, `EventDataInvalid` (422)
    when it is one of a known type and version whose `data` breaks that type's schema."""
    try:
        validate_event(dict(envelope))
    except EventInvalid as exc:
        where, _, message = str(exc).partition(": ")
        field_error: ProblemFieldError = {
            "field": where.lstrip("/").replace("/", ".") or "body",
            "message": message or str(exc),
        }
        if _envelope_alone_is_valid(envelope):
            raise EventDataInvalid(
                f"The data of this {envelope['type']} event breaks its schema: {exc}",
                errors=[field_error],
            ) from None
        raise EventEnvelopeInvalid(f"Not an event envelope: {exc}", errors=[field_error]) from None
    try:
        # The schema's date-time format is only checked when an optional jsonschema extra is
        # installed, so parse it here rather than trust it.
        occurred_at = datetime.fromisoformat(envelope["occurred_at"])
    except ValueError:
        occurred_at = None
    if occurred_at is None or occurred_at.tzinfo is None:
        raise EventEnvelopeInvalid(
            "occurred_at must be an RFC 3339 date-time with a time zone.",
            errors=[{"field": "occurred_at", "message": "not an RFC 3339 date-time"}],
        )
    return occurred_at


async def do_handle_event(
    envelope: Mapping[str, Any],
    *,
    client: AsyncMongoClient[dict[str, Any]],
    occurred_at: datetime,
    now: datetime,
) -> Literal["handled", "duplicate"]:
    """Record a checked envelope and apply its handlers, in one MongoDB transaction.

    `handled_events` has the event id as `_id`, so a second delivery fails on the duplicate
    key, the transaction is aborted, nothing of the handlers' effects is kept, and the answer
    is `duplicate`. A type (or version) this service does not know is recorded and acknowledged
    with no effect: refusing it would make core retry it forever."""
    event_id, event_type, version = envelope["id"], envelope["type"], envelope["version"]
    known = EVENT_VERSIONS.get(event_type) == version
    handlers = handlers_for(event_type) if known else ()
    data = envelope["data"]
    record = {
        "_id": event_id,
        "type": event_type,
        "version": version,
        "producer": envelope["producer"],
        "occurredAt": occurred_at,
        "handledAt": now,
        "known": known,
        "data": data,
    }

    async def record_and_apply(session: AsyncClientSession) -> None:
        # A fresh copy per attempt: the driver may retry this callback after a conflict.
        await collection_in_session(HandledEvent, session).insert_one(dict(record), session=session)
        for handler in handlers:
            await handler(data, session)

    async with client.start_session() as session:
        try:
            await session.with_transaction(record_and_apply)
        except DuplicateKeyError:
            logger.info(
                "duplicate event ignored", extra={"event_id": event_id, "event_type": event_type}
            )
            return "duplicate"
    if not known:
        logger.warning(
            "unknown event type acknowledged",
            extra={"event_id": event_id, "event_type": event_type, "version": version},
        )
    return "handled"


# ---- what core's events do here today ----------------------------------------------------------
# Only the lookup cache holds anything derived from core so far. Data effects (rewriting copied
# usernames, hiding a deleted thread's replies, settling a deleted user's wallet) arrive with
# those domains, as further handlers of the same types.


@register_event_handler(USER_RENAMED)
async def drop_renamed_user_from_caches(data: Mapping[str, Any], _: AsyncClientSession) -> None:
    invalidate_user(data["user_id"])
    invalidate_username(data["old_username"])
    invalidate_username(data["username"])


@register_event_handler(USER_LOCKED)
@register_event_handler(USER_UNLOCKED)
@register_event_handler(USER_DELETED)
async def drop_user_from_caches(data: Mapping[str, Any], _: AsyncClientSession) -> None:
    # invalidate_user also drops the username entries that named this user.
    invalidate_user(data["user_id"])


@register_event_handler(THREAD_DELETED)
@register_event_handler(THREAD_RESTORED)
@register_event_handler(THREAD_MOVED)
async def drop_thread_from_caches(data: Mapping[str, Any], _: AsyncClientSession) -> None:
    invalidate_thread(data["thread_id"])
