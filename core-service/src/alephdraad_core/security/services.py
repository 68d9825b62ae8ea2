"""Writing the audit log, and counting requests against limits shared by every replica."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.http import HttpRequest
from django.utils import timezone

from alephdraad_core.platform.http import client_ip, request_id, user_agent
from alephdraad_core.security.errors import RateLimited
from alephdraad_core.security.models import RateLimitCounter, SecurityEvent


def record_security_event(
    event_type: str,
    *,
    request: HttpRequest | None = None,
    user_id: int | None = None,
    admin_id: int | None = None,
    details: Mapping[str, Any] | None = None,
) -> SecurityEvent:
    """Append one event. Call it outside (or after) the transaction whose outcome it records:
    a failed login must be on record even though nothing else is written."""
    return SecurityEvent.objects.create(
        event_type=event_type,
        user_id=user_id,
        admin_id=admin_id,
        ip_address=client_ip(request) if request is not None else None,
        user_agent=user_agent(request) if request is not None else "",
        request_id=request_id(request) if request is not None else "",
        details=dict(details or {}),
    )


@dataclass(frozen=True)
class RateLimit:
    """`limit` hits per `window` for one scope, e.g. RateLimit("login", 10, 60s)."""

    scope: str
    limit: int
    window: timedelta


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


# One statement, so concurrent replicas count exactly: the row of the current window is
# incremented, a row of an older window is restarted at 1.
_HIT_SQL = f"""
INSERT INTO {RateLimitCounter._meta.db_table} (key, window_start, hits, expires_at)
VALUES (%s, %s, 1, %s)
ON CONFLICT (key) DO UPDATE SET
    hits = CASE WHEN {RateLimitCounter._meta.db_table}.window_start = EXCLUDED.window_start
                THEN {RateLimitCounter._meta.db_table}.hits + 1 ELSE 1 END,
    window_start = EXCLUDED.window_start,
    expires_at = EXCLUDED.expires_at
RETURNING hits
"""  # noqa: S608 - table name from our own model, values are parameters


def hit(rate_limit: RateLimit, identity: str, now: datetime | None = None) -> RateLimitState:
    """Count one hit of `identity` (an IP, an email address…) in a fixed window."""
    moment = now or timezone.now()
    window_seconds = int(rate_limit.window.total_seconds())
    start_epoch = int(moment.timestamp()) // window_seconds * window_seconds
    window_start = datetime.fromtimestamp(start_epoch, tz=moment.tzinfo)
    reset_at = window_start + rate_limit.window
    key = f"{rate_limit.scope}:{identity}"[:255]
    with connection.cursor() as cursor:
        cursor.execute(_HIT_SQL, [key, window_start, reset_at])
        (hits,) = cursor.fetchone()
    return RateLimitState(limit=rate_limit.limit, hits=int(hits), reset_at=reset_at)


def enforce(rate_limit: RateLimit, identity: str, now: datetime | None = None) -> RateLimitState:
    """Count a hit; past the limit raise 429 RATE_LIMITED with Retry-After and RateLimit-*."""
    moment = now or timezone.now()
    state = hit(rate_limit, identity, moment)
    if not state.allowed:
        wait = state.seconds_to_reset(moment)
        raise RateLimited(
            f"Too many requests; retry in {wait} s.",
            headers={
                "Retry-After": str(wait),
                "RateLimit-Limit": str(state.limit),
                "RateLimit-Remaining": "0",
                "RateLimit-Reset": str(wait),
                "RateLimit-Policy": f"{state.limit};w={int(rate_limit.window.total_seconds())}",
            },
        )
    return state


def enforce_per_ip(rate_limit: RateLimit, request: HttpRequest) -> RateLimitState:
    return enforce(rate_limit, client_ip(request) or "unknown")


def purge_expired_counters(now: datetime | None = None) -> int:
    deleted, _ = RateLimitCounter.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted
