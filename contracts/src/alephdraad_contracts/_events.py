"""Events the services exchange through their outboxes (DESIGN section 7).

An event travels as an envelope (`schemas/event-envelope.schema.json`):
`{id, type, version, occurred_at, producer, data}`. `type` and `version` name the schema its
`data` follows, `schemas/event.<type>.v<version>.schema.json`. A producer only emits types
listed in `EVENT_VERSIONS` at their current version and validates the envelope before writing it
to its outbox; a consumer validates what it receives, acts on each id once, and acknowledges
types it does not know (they are recorded, not refused: refusing would make the producer retry
forever while the consumer is the one behind).

Versioning: a change that only adds an optional field keeps the version; anything else
(a removed or renamed field, a new required one, a changed meaning) is a new version, and the
producer keeps emitting the old one until every consumer handles the new one.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from ._schemas import load_schema

USER_REGISTERED = "user.registered"
USER_RENAMED = "user.renamed"
USER_LOCKED = "user.locked"
USER_UNLOCKED = "user.unlocked"
USER_DELETED = "user.deleted"
THREAD_DELETED = "thread.deleted"
THREAD_RESTORED = "thread.restored"
THREAD_MOVED = "thread.moved"
REPLY_DELETED = "reply.deleted"

# Every event type with the version producers emit now.
EVENT_VERSIONS: Mapping[str, int] = {
    USER_REGISTERED: 1,
    USER_RENAMED: 1,
    USER_LOCKED: 1,
    USER_UNLOCKED: 1,
    USER_DELETED: 1,
    THREAD_DELETED: 1,
    THREAD_RESTORED: 1,
    THREAD_MOVED: 1,
    REPLY_DELETED: 1,
}

EVENT_ID_PREFIX = "evt_"
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class EventInvalid(ValueError):
    """An envelope or its `data` does not follow its schema; the message says where."""


def new_ulid(now: datetime | None = None) -> str:
    """A ULID: 48 bits of milliseconds since the epoch, then 80 random bits, in Crockford
    base32 (26 characters); ids made later sort after earlier ones (to the millisecond)."""
    millis = int(now.timestamp() * 1000) if now is not None else time.time_ns() // 1_000_000
    value = (millis << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_event_id(now: datetime | None = None) -> str:
    return EVENT_ID_PREFIX + new_ulid(now)


@cache
def _validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(load_schema(name), format_checker=FormatChecker())


def event_schema_name(event_type: str, version: int) -> str:
    return f"event.{event_type}.v{version}"


def _check(name: str, instance: Any, where: str) -> None:
    errors = sorted(_validator(name).iter_errors(instance), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        path = "/".join(str(part) for part in first.absolute_path)
        location = f"{where}/{path}" if path else where
        raise EventInvalid(f"{location}: {first.message}")


def validate_event(envelope: Any) -> None:
    """Raise `EventInvalid` unless `envelope` is a valid envelope whose `data` follows the
    schema of its type and version. An unknown type (or a version without a schema) passes
    with only the envelope checked: consumers acknowledge those (see the module docstring)."""
    _check("event-envelope", envelope, "")
    event_type, version = envelope["type"], envelope["version"]
    if version == EVENT_VERSIONS.get(event_type):
        _check(event_schema_name(event_type, version), envelope["data"], "/data")


def make_event(
    event_type: str, data: Mapping[str, Any], *, producer: str, now: datetime | None = None
) -> dict[str, Any]:
    """A new, validated envelope of a known type at its current version (producers use this)."""
    if event_type not in EVENT_VERSIONS:
        raise EventInvalid(f"unknown event type: {event_type!r}")
    moment = now if now is not None else datetime.now(UTC)
    if moment.tzinfo is None:
        raise EventInvalid("occurred_at must be timezone-aware")
    envelope = {
        "id": new_event_id(moment),
        "type": event_type,
        "version": EVENT_VERSIONS[event_type],
        "occurred_at": moment.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "producer": producer,
        "data": dict(data),
    }
    validate_event(envelope)
    return envelope
