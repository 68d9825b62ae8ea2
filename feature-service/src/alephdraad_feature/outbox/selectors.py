"""Reading the outbox: the backlog /readyz and `manage outbox status` report."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from alephdraad_feature.outbox.models import DEAD, DELIVERED, PENDING, OutboxEvent


@dataclass(frozen=True, slots=True)
class OutboxBacklog:
    pending: int
    dead: int
    # Age of the oldest event still waiting for delivery; None when nothing waits.
    oldest_pending_seconds: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def outbox_backlog(now: datetime) -> OutboxBacklog:
    """Counts of waiting and dead events and the age of the oldest waiting one (indexed)."""
    collection = OutboxEvent.get_pymongo_collection()
    pending = await collection.count_documents({"status": PENDING})
    dead = await collection.count_documents({"status": DEAD})
    oldest = await collection.find_one({"status": PENDING}, {"occurredAt": 1}, sort=[("_id", 1)])
    age = None
    if oldest is not None:
        age = round(max(0.0, (now - oldest["occurredAt"]).total_seconds()), 3)
    return OutboxBacklog(pending=pending, dead=dead, oldest_pending_seconds=age)


async def outbox_status(now: datetime, *, dead_sample: int = 20) -> dict[str, Any]:
    """The backlog plus delivered count and the newest dead events with their last error."""
    backlog = await outbox_backlog(now)
    collection = OutboxEvent.get_pymongo_collection()
    delivered = await collection.count_documents({"status": DELIVERED})
    dead_events = [
        {
            "id": document["_id"],
            "type": document["type"],
            "attempts": document.get("attempts", 0),
            "last_error": document.get("lastError"),
        }
        async for document in collection.find({"status": DEAD}).sort("_id", -1).limit(dead_sample)
    ]
    return {**backlog.as_dict(), "delivered": delivered, "dead_events": dead_events}
