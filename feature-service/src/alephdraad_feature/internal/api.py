"""Routes of the internal listener, /internal/v1 (DESIGN section 5).

Every route here is behind `require_signature` and left out of the public OpenAPI document:
the gateway never routes /internal/, only core-service calls these, over signed requests.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Literal

from litestar import Request, Router, get, post
from litestar.params import FromPath, JSONBody
from pydantic import BaseModel, Field
from pymongo.errors import DuplicateKeyError

from alephdraad_feature.internal.models import HandledEvent
from alephdraad_feature.internal.signing import CLOCK_STATE_KEY, Clock, require_signature, utc_now

logger = logging.getLogger("alephdraad_feature.internal")

# Event types core-service publishes (issue 7). The feature service keeps no data derived from
# them yet, so receiving one has no effect beyond being recorded; later issues give each its
# effect (e.g. `user.renamed` rewrites copied usernames).
KNOWN_EVENT_TYPES = frozenset(
    {
        "user.registered",
        "user.renamed",
        "user.locked",
        "user.unlocked",
        "user.deleted",
        "thread.deleted",
        "thread.restored",
        "thread.moved",
    }
)


class DeletionCheck(BaseModel):
    can_delete: bool
    blocking_reasons: list[str]


class EventEnvelope(BaseModel):
    """One event of another service's outbox."""

    id: str = Field(min_length=1, max_length=128)
    type: str = Field(min_length=1, max_length=128)
    occurred_at: datetime
    data: dict[str, Any] = Field(default_factory=dict)


class EventReceipt(BaseModel):
    status: Literal["handled", "duplicate"]


@get("/users/{user_id:int}/deletion-check", sync_to_thread=False)
def deletion_check(user_id: FromPath[int]) -> DeletionCheck:
    """May core delete user `user_id`? Nothing the feature service holds can block a deletion
    yet: wallets (a balance that must be settled first) arrive with issue 9, which adds its
    reason here. So `can_delete: true` with no reasons is the correct answer today, for any id
    (a user the feature service never heard of holds nothing either)."""
    return DeletionCheck(can_delete=True, blocking_reasons=[])


@post("/events", status_code=200)
async def receive_event(
    request: Request[Any, Any, Any], data: JSONBody[EventEnvelope]
) -> EventReceipt:
    """Receive one event, exactly once in effect.

    The event id is inserted into `handled_events` (`_id` = event id) first; a duplicate key
    means it was handled before, so a redelivery answers `duplicate` and does nothing. No event
    has an effect in this service yet (see `KNOWN_EVENT_TYPES`); when one does, the effect
    must be written in the same MongoDB transaction as this record.

    An unknown event type is recorded and acknowledged with a warning in the log, not refused:
    refusing would make the sender's outbox retry it forever, and the recorded document (with
    its `data`) lets a later version find what it missed.
    """
    clock: Clock = request.app.state.get(CLOCK_STATE_KEY, utc_now)
    known = data.type in KNOWN_EVENT_TYPES
    record = {
        "_id": data.id,
        "type": data.type,
        "occurredAt": data.occurred_at,
        "handledAt": clock(),
        "known": known,
        "data": data.data,
    }
    try:
        await HandledEvent.get_pymongo_collection().insert_one(record)
    except DuplicateKeyError:
        logger.info("duplicate event ignored", extra={"event_id": data.id, "event_type": data.type})
        return EventReceipt(status="duplicate")
    if not known:
        logger.warning(
            "unknown event type acknowledged", extra={"event_id": data.id, "event_type": data.type}
        )
    return EventReceipt(status="handled")


internal_router = Router(
    path="/internal/v1",
    route_handlers=[deletion_check, receive_event],
    guards=[require_signature],
    include_in_schema=False,
    tags=["internal"],
)
