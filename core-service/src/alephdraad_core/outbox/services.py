"""Writing events to the outbox, receiving other services' events, and operator actions.

Domains call `do_emit_event` from their own `events` module, inside the transaction that makes
the change the event describes. `check_event_envelope` and `do_handle_event` are the receiving
side (POST /internal/v1/events); `do_retry_dead_events` is `manage.py outbox retry`.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any, Literal

from django.db import connection, transaction
from django.utils import timezone
from jsonschema import Draft202012Validator, FormatChecker
from psycopg.types.json import Jsonb

from alephdraad_contracts import (
    EventInvalid,
    ProblemFieldError,
    current_request_id,
    load_schema,
    make_event,
    validate_event,
)
from alephdraad_core.outbox.consumers import consumer_for
from alephdraad_core.outbox.errors import EventDataInvalid, EventEnvelopeInvalid
from alephdraad_core.outbox.models import HandledEvent, OutboxEvent

logger = logging.getLogger(__name__)

PRODUCER = "core-service"


class NotInTransaction(RuntimeError):
    """An event written outside a transaction could be committed without its change (or the
    change without it); that is a programming error, never a client's."""


def do_emit_event(
    event_type: str, data: Mapping[str, Any], *, now: datetime | None = None
) -> OutboxEvent:
    """Validate the event against its contracts schema and insert it into `event_outbox`.

    Must run inside `transaction.atomic()`: the event commits or rolls back with the change."""
    if not transaction.get_connection().in_atomic_block:
        raise NotInTransaction(f"{event_type} must be emitted inside the change's transaction")
    moment = now if now is not None else timezone.now()
    envelope = make_event(event_type, data, producer=PRODUCER, now=moment)
    return OutboxEvent.objects.create(
        id=envelope["id"],
        type=event_type,
        version=envelope["version"],
        occurred_at=moment,
        envelope=envelope,
        next_attempt_at=moment,
        request_id=current_request_id() or "",
    )


# --- receiving ---------------------------------------------------------------------------------

_ENVELOPE_SCHEMA: dict[str, Any] = load_schema("event-envelope")
_ENVELOPE_VALIDATOR = Draft202012Validator(_ENVELOPE_SCHEMA, format_checker=FormatChecker())

HandlingResult = Literal["handled", "duplicate"]


def check_event_envelope(body: Any, *, caller: str) -> dict[str, Any]:
    """Return `body` when it is a valid event envelope from `caller`, else raise.

    `EventEnvelopeInvalid` (400) when it is not an envelope (contracts' envelope schema, each
    problem named as a field); `EventDataInvalid` (422) when the envelope is fine but its
    `data` breaks the schema of its type and version, or it names another producer than the
    service that signed the request (a producer speaks only for itself)."""
    errors = _envelope_errors(body)
    if errors:
        raise EventEnvelopeInvalid(
            "The body is not an event envelope; see errors[].", errors=errors
        )
    try:
        validate_event(body)
    except EventInvalid as invalid:
        location, _, message = str(invalid).partition(": ")
        field = ".".join(part for part in location.split("/") if part)
        raise EventDataInvalid(
            str(invalid), errors=[{"field": field, "message": message}]
        ) from None
    if body["producer"] != caller:
        message = f"The request is signed by {caller!r}, which cannot publish its events."
        raise EventDataInvalid(message, errors=[{"field": "producer", "message": message}])
    return dict(body)


def _envelope_errors(body: Any) -> list[ProblemFieldError]:
    if not isinstance(body, dict):
        return [{"field": "", "message": "Must be a JSON object (an event envelope)."}]
    errors: list[ProblemFieldError] = [
        {"field": name, "message": "This field is required."}
        for name in _ENVELOPE_SCHEMA["required"]
        if name not in body
    ]
    errors.extend(
        {"field": name, "message": "Unknown field."}
        for name in sorted(set(body) - set(_ENVELOPE_SCHEMA["properties"]))
    )
    # Missing and unknown fields are reported above, by name, like every other 400 of this
    # service; the schema reports the rest (types, patterns, formats) at their paths.
    for error in _ENVELOPE_VALIDATOR.iter_errors(body):
        if error.validator in ("required", "additionalProperties"):
            continue
        field = ".".join(str(part) for part in error.absolute_path)
        errors.append({"field": field, "message": error.message})
    occurred_at = body.get("occurred_at")
    if isinstance(occurred_at, str) and not any(e["field"] == "occurred_at" for e in errors):
        # RFC 3339 allows what Python cannot hold (a leap second, a lowercase "t"); an
        # envelope we could not store must be refused here, not fail with a 500 later.
        try:
            _occurred_at(occurred_at)
        except ValueError:
            errors.append({"field": "occurred_at", "message": "Not a storable date-time."})
    return sorted(errors, key=lambda error: error["field"])


def _occurred_at(value: str) -> datetime:
    moment = datetime.fromisoformat(value.upper())
    if moment.tzinfo is None:
        raise ValueError("a date-time without an offset")
    return moment


def do_handle_event(envelope: Mapping[str, Any], *, now: datetime | None = None) -> HandlingResult:
    """Record a checked envelope in `handled_events` and run its consumer, exactly once per id.

    One transaction: `INSERT … ON CONFLICT (id) DO NOTHING` takes the id (a concurrent
    delivery of the same id waits on it and then finds it taken), and the consumer's effect
    commits with the record or not at all. A type or version with no consumer is recorded with
    known=False and acknowledged: refusing it would make the producer retry it forever while
    this service is the one behind, and the stored data lets a later version catch up."""
    event_type, version = envelope["type"], envelope["version"]
    consumer = consumer_for(event_type, version)
    handled_at = now if now is not None else timezone.now()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                INSERT INTO {HandledEvent._meta.db_table}
                    (id, type, producer, occurred_at, handled_at, known, data)
                VALUES (%s, %s, %s, %s, %s, %s, %s)
                ON CONFLICT (id) DO NOTHING
                RETURNING id
                """,  # noqa: S608 - the table name is ours; every value is a parameter
                [
                    envelope["id"],
                    event_type,
                    envelope["producer"],
                    _occurred_at(envelope["occurred_at"]),
                    handled_at,
                    consumer is not None,
                    Jsonb(envelope["data"]),
                ],
            )
            inserted = cursor.fetchone() is not None
        extra = {"event_id": envelope["id"], "event_type": event_type, "version": version}
        if not inserted:
            logger.info("duplicate event ignored", extra=extra)
            return "duplicate"
        if consumer is None:
            logger.warning("event with no consumer acknowledged", extra=extra)
        else:
            consumer(envelope["data"])
            logger.info("event handled", extra=extra)
    return "handled"


# --- operator actions --------------------------------------------------------------------------


def do_retry_dead_events(
    event_ids: Collection[str] | None = None, *, now: datetime | None = None
) -> list[str]:
    """Put dead events back to pending, due now, with a fresh backoff; return their ids.

    `event_ids=None` retries every dead event; otherwise only those of the given ids that are
    dead (a pending or delivered event is left alone). Locks the dead rows it updates; the
    last error is kept so the operator can still see why the event died."""
    moment = now if now is not None else timezone.now()
    with transaction.atomic():
        dead = OutboxEvent.objects.select_for_update().filter(status=OutboxEvent.Status.DEAD)
        if event_ids is not None:
            dead = dead.filter(pk__in=list(event_ids))
        retried = list(dead.order_by("id").values_list("id", flat=True))
        OutboxEvent.objects.filter(pk__in=retried).update(
            status=OutboxEvent.Status.PENDING, attempts=0, next_attempt_at=moment
        )
    if retried:
        logger.info("dead events put back to pending", extra={"event_ids": retried})
    return retried
