"""Helpers for the outbox tests (test_outbox_*, test_internal_events): events in core's outbox,
envelopes as the feature service would send them, and the feature stub's events route."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from alephdraad_contracts import (
    USER_REGISTERED,
    bind_request_id,
    new_event_id,
    reset_request_id,
)
from alephdraad_core.outbox.models import OutboxEvent
from alephdraad_core.outbox.services import do_emit_event
from tests.feature_stub import FeatureStub

EVENTS = "/internal/v1/events"
_user_ids = itertools.count(1)


def emit(
    *,
    now: datetime | None = None,
    request_id: str | None = None,
    **fields: Any,
) -> OutboxEvent:
    """A `user.registered` event written as a domain writes it (in a transaction, under the
    current request id); `fields` then overrides columns (status, attempts, …) directly."""
    user_id = next(_user_ids)
    token = bind_request_id(request_id)
    try:
        with transaction.atomic():
            event = do_emit_event(
                USER_REGISTERED, {"user_id": user_id, "username": f"user{user_id}"}, now=now
            )
    finally:
        reset_request_id(token)
    if fields:
        OutboxEvent.objects.filter(pk=event.pk).update(**fields)
        event.refresh_from_db()
    return event


def emit_at_seconds_ago(*seconds_ago: float) -> list[OutboxEvent]:
    """Events that happened (and became due) that many seconds ago, in the order given."""
    now = timezone.now()
    return [emit(now=now - timedelta(seconds=seconds)) for seconds in seconds_ago]


def feature_envelope(
    event_type: str = "test.counted",
    data: dict[str, Any] | None = None,
    *,
    version: int = 1,
    producer: str = "feature-service",
    occurred_at: str = "2026-11-25T12:00:00.123Z",
) -> dict[str, Any]:
    """An envelope as the feature service's dispatcher POSTs it to core."""
    return {
        "id": new_event_id(),
        "type": event_type,
        "version": version,
        "occurred_at": occurred_at,
        "producer": producer,
        "data": {"reply_id": "rpl_01JDZ8K4Q9V3R6T2M5N7P1X0YZ"} if data is None else data,
    }


def accept_events(stub: FeatureStub, status: int = 200) -> None:
    """The feature service acknowledging every event with `status`."""
    body = {"status": "handled"} if status < 300 else {"code": "X", "status": status}
    stub.respond("POST", EVENTS, status, body)


def received_ids(stub: FeatureStub) -> list[str]:
    """Ids of the envelopes the stub received, in arrival order."""
    return [request.json["id"] for request in stub.requests_to("POST", EVENTS)]
