"""Housekeeping of the outbox tables: delivered events after 7 days, handled-event records
after 30; pending and dead events are never deleted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alephdraad_contracts import new_event_id
from alephdraad_core.outbox.models import HandledEvent, OutboxEvent
from alephdraad_core.platform.housekeeping import (
    DELIVERED_EVENT_RETENTION,
    HANDLED_EVENT_RETENTION,
    purge_expired,
)
from tests.outbox_support import emit

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def test_the_retention_periods_are_the_documented_ones() -> None:
    documented = {"delivered events": timedelta(days=7), "handled events": timedelta(days=30)}
    assert documented == {
        "delivered events": DELIVERED_EVENT_RETENTION,
        "handled events": HANDLED_EVENT_RETENTION,
    }


def test_delivered_events_older_than_a_week_are_deleted_and_nothing_else() -> None:
    horizon = NOW - DELIVERED_EVENT_RETENTION
    delivered = OutboxEvent.Status.DELIVERED
    old = emit(status=delivered, delivered_at=horizon - SECOND)
    boundary = emit(status=delivered, delivered_at=horizon)
    recent = emit(status=delivered, delivered_at=NOW - timedelta(days=1))
    # Undelivered events are kept however old they are: they are facts still owed.
    ancient = NOW - timedelta(days=90)
    pending = emit(now=ancient)
    dead = emit(now=ancient, status=OutboxEvent.Status.DEAD)

    purged = purge_expired(now=NOW)

    assert purged["event_outbox"] == 1
    assert set(OutboxEvent.objects.values_list("id", flat=True)) == {
        boundary.pk,
        recent.pk,
        pending.pk,
        dead.pk,
    }
    assert old.pk not in set(OutboxEvent.objects.values_list("id", flat=True))


def _handled(handled_at: datetime) -> str:
    record = HandledEvent.objects.create(
        id=new_event_id(handled_at),
        type="reply.accepted",
        producer="feature-service",
        occurred_at=handled_at,
        handled_at=handled_at,
        known=False,
    )
    return record.id


def test_handled_event_records_older_than_thirty_days_are_deleted() -> None:
    horizon = NOW - HANDLED_EVENT_RETENTION
    _handled(horizon - timedelta(days=3))
    _handled(horizon - SECOND)
    boundary = _handled(horizon)
    recent = _handled(NOW - timedelta(hours=1))

    assert purge_expired(now=NOW)["handled_events"] == 2

    assert set(HandledEvent.objects.values_list("id", flat=True)) == {boundary, recent}
    # Nothing more the second time.
    assert purge_expired(now=NOW)["handled_events"] == 0
