"""The `event_outbox` collection: events written with the change they describe."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

from beanie import Document
from pydantic import ConfigDict, Field
from pymongo import ASCENDING, IndexModel

OutboxStatus = Literal["pending", "delivered", "dead"]
PENDING: OutboxStatus = "pending"
DELIVERED: OutboxStatus = "delivered"
# core refused it for good (a 4xx about the event itself); kept with the answer in `lastError`
# for an operator (`manage outbox retry`), never silently dropped.
DEAD: OutboxStatus = "dead"
# How long a delivered event is kept (for following a change across both services' logs).
DELIVERED_RETENTION_SECONDS = 7 * 24 * 3600


class OutboxEvent(Document):
    """One event of this service's outbox, delivered to core's POST /internal/v1/events.

    `_id` is the event id (evt_ + ULID), so sorting by `_id` is the order events were made in.
    `emit_event` inserts it in the caller's transaction: it exists if and only if the change it
    describes was committed. A dispatcher claims a due event by setting `leaseOwner` and
    `leaseUntil` (atomically, `find_one_and_update`), so dispatchers in every replica never
    send the same event at the same time; a crashed dispatcher's lease simply runs out."""

    model_config = ConfigDict(populate_by_name=True)

    id: str  # type: ignore[assignment]  # the event id, not an ObjectId
    type: str
    version: int
    occurred_at: datetime = Field(alias="occurredAt")
    # The whole envelope as delivered (contracts' event-envelope schema), validated on write.
    envelope: dict[str, Any]
    status: OutboxStatus = PENDING
    attempts: int = 0
    next_attempt_at: datetime = Field(alias="nextAttemptAt")
    lease_owner: str | None = Field(default=None, alias="leaseOwner")
    lease_until: datetime | None = Field(default=None, alias="leaseUntil")
    last_error: str | None = Field(default=None, alias="lastError")
    delivered_at: datetime | None = Field(default=None, alias="deliveredAt")
    # The request that caused the event: its delivery carries the same X-Request-ID.
    request_id: str | None = Field(default=None, alias="requestId")

    class Settings:
        name = "event_outbox"
        indexes: ClassVar[list[IndexModel]] = [
            # The dispatcher's claim: status equality, sorted by _id, filtered on the due time
            # (equality, sort, range); also serves the per-status counts of /readyz.
            IndexModel(
                [("status", ASCENDING), ("_id", ASCENDING), ("nextAttemptAt", ASCENDING)],
                name="status_id_nextAttemptAt",
            ),
            # Housekeeping, as core's worker does for its outbox: MongoDB's TTL monitor removes
            # delivered events a week after delivery. Pending and dead events have no
            # deliveredAt, so the TTL never touches them.
            IndexModel(
                [("deliveredAt", ASCENDING)],
                name="deliveredAt_ttl",
                expireAfterSeconds=DELIVERED_RETENTION_SECONDS,
            ),
        ]
