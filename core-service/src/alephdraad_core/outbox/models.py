"""The event outbox (events core publishes) and the record of events core has handled.

DESIGN section 7: an event is written to `event_outbox` in the same transaction as the change it
describes, so it exists if and only if the change was committed; the dispatcher delivers it to
the feature service with signed calls until acknowledged.
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils import timezone


class OutboxEvent(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        # The consumer refused it permanently (a 4xx other than 401/403/408/409/425/429); kept
        # with the answer for an operator (`manage.py outbox retry` puts it back), never lost.
        DEAD = "dead"

    # evt_ + ULID: sorts by creation time, so `ORDER BY id` is the order events happened in.
    id = models.CharField(max_length=30, primary_key=True)
    type = models.CharField(max_length=64)
    version = models.PositiveSmallIntegerField()
    occurred_at = models.DateTimeField()
    # The whole envelope as delivered (contracts' event-envelope schema), validated on write.
    envelope = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(blank=True, default="")
    # The request that caused the event, for following one change across both services' logs.
    request_id = models.CharField(max_length=128, blank=True, default="")
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "event_outbox"
        indexes: ClassVar[list[models.Index]] = [
            # The dispatcher's query: pending events that are due, oldest first.
            models.Index(
                fields=["next_attempt_at", "id"],
                name="idx_event_outbox_due",
                condition=models.Q(status="pending"),
            ),
            # Housekeeping: delivered events older than the retention period.
            models.Index(
                fields=["delivered_at"],
                name="idx_event_outbox_delivered",
                condition=models.Q(status="delivered"),
            ),
            # The readiness probe and `outbox status` count dead events every few seconds;
            # they are few, and this keeps the count from scanning the delivered ones.
            models.Index(
                fields=["id"],
                name="idx_event_outbox_dead",
                condition=models.Q(status="dead"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.id} ({self.status})"


class HandledEvent(models.Model):
    """An event another service delivered to POST /internal/v1/events, recorded in the same
    transaction as its effect; the primary key makes a redelivery a no-op."""

    id = models.CharField(max_length=30, primary_key=True)
    type = models.CharField(max_length=64)
    producer = models.CharField(max_length=64)
    occurred_at = models.DateTimeField()
    handled_at = models.DateTimeField(default=timezone.now)
    # False for a type this version does not know: acknowledged, recorded, no effect.
    known = models.BooleanField()
    data = models.JSONField(default=dict)

    class Meta:
        db_table = "handled_events"
        indexes: ClassVar[list[models.Index]] = [
            # Housekeeping: records older than the retention period.
            models.Index(fields=["handled_at"], name="idx_handled_events_handled_at"),
        ]

    def __str__(self) -> str:
        return f"handled {self.type} {self.id}"
