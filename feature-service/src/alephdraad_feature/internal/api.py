"""Routes of the internal listener, /internal/v1 (DESIGN section 5).

Every route here is behind `require_signature` and left out of the public OpenAPI document:
the gateway never routes /internal/, only core-service calls these, over signed requests.
"""

from __future__ import annotations

from typing import Any, Literal

from litestar import Request, Router, get, post
from litestar.params import FromPath, JSONBody
from pydantic import BaseModel

from alephdraad_feature.internal.events import check_event, do_handle_event
from alephdraad_feature.internal.holdings import blocking_reasons, count_holdings
from alephdraad_feature.internal.lookups import LookupRequest, LookupResponse, answer_lookup
from alephdraad_feature.internal.signing import CLOCK_STATE_KEY, Clock, require_signature, utc_now
from alephdraad_feature.platform.db import get_mongo


class DeletionCheck(BaseModel):
    can_delete: bool
    blocking_reasons: list[str]
    # How many of each kind of thing the user has here (replies, reactions, …).
    holdings: dict[str, int] = {}


class EventReceipt(BaseModel):
    status: Literal["handled", "duplicate"]


@get("/users/{user_id:int}/deletion-check")
async def deletion_check(user_id: FromPath[int]) -> DeletionCheck:
    """May core delete user `user_id`? Each domain that can block a deletion registers a
    blocker (`internal.holdings`; wallets with money will, in a later issue); holdings are
    counted for the record (core logs them) and block nothing. A user the feature service never
    heard of holds nothing: `can_delete: true`."""
    reasons = await blocking_reasons(user_id)
    return DeletionCheck(
        can_delete=not reasons, blocking_reasons=reasons, holdings=await count_holdings(user_id)
    )


@post("/events", status_code=200)
async def receive_event(
    request: Request[Any, Any, Any], data: JSONBody[dict[str, Any]]
) -> EventReceipt:
    """Receive one event of core's outbox, exactly once in effect.

    The envelope is checked against the contracts schemas: not an envelope, 400
    VALIDATION_FAILED; a known type whose `data` breaks its schema, 422 UNPROCESSABLE_CONTENT
    (core's dispatcher marks both dead rather than retrying them). Then the event id is
    recorded in `handled_events` and the type's handlers run, in one MongoDB transaction
    (`internal.events`); a redelivery answers `duplicate` and does nothing. An unknown type is
    recorded and acknowledged with a warning in the log, not refused: refusing would make
    core's outbox retry it forever, and the record (with its `data`) lets a later version find
    what it missed.
    """
    occurred_at = check_event(data)
    clock: Clock = request.app.state.get(CLOCK_STATE_KEY, utc_now)
    status = await do_handle_event(
        data, client=get_mongo(request.app).client, occurred_at=occurred_at, now=clock()
    )
    return EventReceipt(status=status)


@post("/lookup", status_code=200)
async def lookup(data: JSONBody[LookupRequest]) -> LookupResponse:
    """What core needs to know about feature ids before it refers to them (at most 100 of each
    kind): one entry per distinct id, `exists: false` for ids that do not exist."""
    return await answer_lookup(data)


internal_router = Router(
    path="/internal/v1",
    route_handlers=[deletion_check, receive_event, lookup],
    guards=[require_signature],
    include_in_schema=False,
    tags=["internal"],
)
