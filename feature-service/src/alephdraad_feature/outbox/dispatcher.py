"""Delivering the outbox to core-service: claim with a lease, send, record the outcome.

Safe to run in every replica at once (DESIGN section 7): an event is claimed with one atomic
`find_one_and_update` that matches only a pending, due event whose lease is absent or over, and
sets this dispatcher's lease on it. Whoever wins sends it; the others move on to the next id.
A dispatcher that dies mid-delivery leaves a lease that runs out after
FEATURE_OUTBOX_LEASE_SECONDS, and the event is claimed again (core records event ids, so a
second delivery is a harmless `duplicate`).

Outcomes: acknowledged, `delivered`; a 4xx about the event itself (not 401/403/408/409/425/429),
`dead`; anything else, `attempts + 1` and the next attempt after an exponential backoff capped
at FEATURE_OUTBOX_MAX_BACKOFF_SECONDS, lease released. When core cannot be reached at all the
pass stops: every later event would fail the same way, and stopping keeps them in order.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pymongo import ReturnDocument

from alephdraad_feature.internal.core_client import CoreClient, DeliveryOutcome
from alephdraad_feature.internal.signing import utc_now
from alephdraad_feature.outbox.models import DEAD, DELIVERED, PENDING, OutboxEvent
from alephdraad_feature.settings import Settings

logger = logging.getLogger("alephdraad_feature.outbox")

# The first retry waits this long; each further one twice as long, up to the configured cap.
BACKOFF_BASE_SECONDS = 1.0
# lastError keeps the start of core's answer, enough to see why without storing a page.
_ERROR_LIMIT = 1000


def backoff_seconds(attempts: int, max_backoff_seconds: float) -> float:
    """Delay before attempt `attempts + 1`, after `attempts` failed ones (≥ 1)."""
    exponent = min(max(attempts - 1, 0), 32)  # 2**32 s is past any cap; avoids huge floats
    return float(min(max_backoff_seconds, BACKOFF_BASE_SECONDS * 2**exponent))


def new_owner_id() -> str:
    """Who holds a lease: host, process and a random part (several dispatchers per process)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class DispatchReport:
    """What one pass (or several) did."""

    delivered: int = 0
    retried: int = 0
    dead: int = 0
    # The pass stopped early because core could not be reached.
    unreachable: bool = False
    # Outcomes not recorded because the lease had run out and another dispatcher took over.
    lease_lost: int = 0

    @property
    def attempted(self) -> int:
        return self.delivered + self.retried + self.dead + self.lease_lost

    def add(self, other: DispatchReport) -> None:
        self.delivered += other.delivered
        self.retried += other.retried
        self.dead += other.dead
        self.lease_lost += other.lease_lost
        self.unreachable = other.unreachable

    def as_dict(self) -> dict[str, Any]:
        return {
            "delivered": self.delivered,
            "retried": self.retried,
            "dead": self.dead,
            "lease_lost": self.lease_lost,
            "unreachable": self.unreachable,
        }


class OutboxDispatcher:
    """Claims due events in id order and delivers them with `CoreClient.deliver_event`."""

    def __init__(
        self,
        core_client: CoreClient,
        *,
        batch_size: int,
        lease_seconds: float,
        max_backoff_seconds: float,
        owner: str | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.core_client = core_client
        self.batch_size = batch_size
        self.lease = timedelta(seconds=lease_seconds)
        self.max_backoff_seconds = max_backoff_seconds
        self.owner = owner or new_owner_id()
        self._clock = clock

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        core_client: CoreClient,
        *,
        owner: str | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> OutboxDispatcher:
        return cls(
            core_client,
            batch_size=settings.feature_outbox_batch_size,
            lease_seconds=settings.feature_outbox_lease_seconds,
            max_backoff_seconds=settings.feature_outbox_max_backoff_seconds,
            owner=owner,
            clock=clock,
        )

    async def claim_next(self) -> dict[str, Any] | None:
        """Lease the oldest due event to this dispatcher, or None when none is due."""
        now = self._clock()
        return await OutboxEvent.get_pymongo_collection().find_one_and_update(
            {
                "status": PENDING,
                "nextAttemptAt": {"$lte": now},
                # `null` also matches a missing field.
                "$or": [{"leaseUntil": None}, {"leaseUntil": {"$lte": now}}],
            },
            {"$set": {"leaseOwner": self.owner, "leaseUntil": now + self.lease}},
            sort=[("_id", 1)],
            return_document=ReturnDocument.AFTER,
        )

    async def _record(self, event_id: str, update: dict[str, Any]) -> bool:
        """Apply the outcome only while we still hold the lease; False if we lost it."""
        result = await OutboxEvent.get_pymongo_collection().update_one(
            {"_id": event_id, "leaseOwner": self.owner, "status": PENDING}, update
        )
        if not result.matched_count:
            logger.warning(
                "outbox lease lost before the outcome was recorded",
                extra={"event_id": event_id, "owner": self.owner},
            )
            return False
        return True

    async def do_deliver(self, event: dict[str, Any], report: DispatchReport) -> DeliveryOutcome:
        """Send one claimed event and record the outcome (expects this dispatcher's lease)."""
        event_id = event["_id"]
        outcome = await self.core_client.deliver_event(
            event["envelope"], request_id=event.get("requestId")
        )
        now = self._clock()
        attempts = int(event.get("attempts", 0)) + 1
        released = {"leaseOwner": None, "leaseUntil": None}
        log_extra = {
            "event_id": event_id,
            "event_type": event.get("type"),
            "attempts": attempts,
            "status_code": outcome.status_code,
        }
        if outcome.result == "delivered":
            update = {
                "$set": {**released, "status": DELIVERED, "deliveredAt": now, "lastError": None},
                "$inc": {"attempts": 1},
            }
            if await self._record(event_id, update):
                report.delivered += 1
                logger.info("outbox event delivered", extra=log_extra)
            else:
                report.lease_lost += 1
        elif outcome.result == "dead":
            update = {
                "$set": {**released, "status": DEAD, "lastError": outcome.detail[:_ERROR_LIMIT]},
                "$inc": {"attempts": 1},
            }
            if await self._record(event_id, update):
                report.dead += 1
                logger.error(
                    "outbox event refused by core-service; marked dead",
                    extra={**log_extra, "error": outcome.detail[:_ERROR_LIMIT]},
                )
            else:
                report.lease_lost += 1
        else:
            delay = backoff_seconds(attempts, self.max_backoff_seconds)
            update = {
                "$set": {
                    **released,
                    "nextAttemptAt": now + timedelta(seconds=delay),
                    "lastError": outcome.detail[:_ERROR_LIMIT],
                },
                "$inc": {"attempts": 1},
            }
            if await self._record(event_id, update):
                report.retried += 1
                logger.warning(
                    "outbox event not delivered; will retry",
                    extra={**log_extra, "retry_in_seconds": delay, "error": outcome.detail[:200]},
                )
            else:
                report.lease_lost += 1
        return outcome

    async def do_dispatch_pass(self) -> DispatchReport:
        """Deliver up to `batch_size` due events, oldest id first; stop early when core is
        unreachable. Database errors propagate (the worker logs them and tries again)."""
        report = DispatchReport()
        for _ in range(self.batch_size):
            event = await self.claim_next()
            if event is None:
                break
            outcome = await self.do_deliver(event, report)
            if outcome.unreachable:
                report.unreachable = True
                break
        return report

    async def do_dispatch_until_empty(self) -> DispatchReport:
        """Passes until nothing is due (events waiting out a backoff are not due) or core is
        unreachable."""
        total = DispatchReport()
        while True:
            report = await self.do_dispatch_pass()
            total.add(report)
            if report.unreachable or report.attempted < self.batch_size:
                return total
