"""Rate limits kept in MongoDB, so every replica and worker process shares one count.

DESIGN section 2: services keep no state in memory that another replica would need, so a
per-process counter would let a client multiply its allowance by the number of processes. A
limit is a fixed window (the same scheme as core's `security.services`): the window a moment
falls in is `floor(epoch / window) * window`, and one document per (scope, identity, window)
counts its hits in `rate_limits`:

    REPLIES_PER_USER = RateLimit("replies:user", 10, timedelta(minutes=1))
    do_enforce(REPLIES_PER_USER, str(user_id), now)   # 429 RATE_LIMITED past the tenth

Counting is one `find_one_and_update` with `$inc` and `upsert`: atomic on the server, so
concurrent requests on any replica never both take the last slot. The window's end is stored as
`expiresAt` under a TTL index, so MongoDB removes finished windows on its own (its TTL monitor
runs about once a minute; a stale window is harmless meanwhile because the next window has
another `_id`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import ClassVar

from beanie import Document
from pydantic import ConfigDict, Field
from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.errors import DuplicateKeyError

from alephdraad_contracts import RATE_LIMITED
from alephdraad_feature.platform.errors import DomainError


class RateLimitWindow(Document):
    """The hits of one identity in one window of one limit; `_id` is
    `scope:identity:window-start-epoch`."""

    model_config = ConfigDict(populate_by_name=True)

    id: str  # type: ignore[assignment]  # scope:identity:window start, not an ObjectId
    hits: int
    expires_at: datetime = Field(alias="expiresAt")

    class Settings:
        name = "rate_limits"
        indexes: ClassVar[list[IndexModel]] = [
            IndexModel([("expiresAt", ASCENDING)], name="expiresAt_ttl", expireAfterSeconds=0)
        ]


@dataclass(frozen=True)
class RateLimit:
    """`limit` hits per `window` for one scope, e.g. RateLimit("replies:user", 10, 60 s)."""

    scope: str
    limit: int
    window: timedelta

    @property
    def window_seconds(self) -> int:
        return int(self.window.total_seconds())


@dataclass(frozen=True)
class RateLimitState:
    limit: int
    hits: int
    reset_at: datetime

    @property
    def allowed(self) -> bool:
        return self.hits <= self.limit

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.hits)

    def seconds_to_reset(self, now: datetime) -> int:
        return max(1, math.ceil((self.reset_at - now).total_seconds()))


class RateLimited(DomainError):
    """429 RATE_LIMITED with Retry-After and the RateLimit-* headers."""

    problem_type = RATE_LIMITED


async def do_hit(rate_limit: RateLimit, identity: str, now: datetime) -> RateLimitState:
    """Count one hit of `identity` (a user id, an IP…) in the window `now` falls in."""
    window = rate_limit.window_seconds
    start_epoch = math.floor(now.timestamp()) // window * window
    reset_at = datetime.fromtimestamp(start_epoch + window, tz=UTC)
    key = f"{rate_limit.scope}:{identity}:{start_epoch}"
    collection = RateLimitWindow.get_pymongo_collection()
    update = {"$inc": {"hits": 1}, "$setOnInsert": {"expiresAt": reset_at}}
    try:
        document = await collection.find_one_and_update(
            {"_id": key}, update, upsert=True, return_document=ReturnDocument.AFTER
        )
    except DuplicateKeyError:
        # Two first hits of a window raced to insert it; the loser increments the winner's.
        document = await collection.find_one_and_update(
            {"_id": key}, update, upsert=True, return_document=ReturnDocument.AFTER
        )
    return RateLimitState(limit=rate_limit.limit, hits=int(document["hits"]), reset_at=reset_at)


async def do_enforce(rate_limit: RateLimit, identity: str, now: datetime) -> RateLimitState:
    """Count a hit; past the limit raise 429 RATE_LIMITED (the hit is counted either way, so a
    client that keeps hammering stays limited until the window ends)."""
    state = await do_hit(rate_limit, identity, now)
    if not state.allowed:
        wait = state.seconds_to_reset(now)
        raise RateLimited(
            f"Too many requests; retry in {wait} s.",
            headers={
                "Retry-After": str(wait),
                "RateLimit-Limit": str(state.limit),
                "RateLimit-Remaining": "0",
                "RateLimit-Reset": str(wait),
                "RateLimit-Policy": f"{state.limit};w={rate_limit.window_seconds}",
            },
        )
    return state
