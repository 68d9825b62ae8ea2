"""Writing events to the outbox. Domains call `do_emit_event` from their own `events` module,
inside the transaction that makes the change the event describes."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from alephdraad_contracts import current_request_id, make_event
from alephdraad_core.outbox.models import OutboxEvent

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
