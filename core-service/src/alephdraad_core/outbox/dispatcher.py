"""Delivering the outbox to the feature service (DESIGN section 7).

`dispatch_due()` is one pass: it claims the due pending events with
`SELECT … FOR UPDATE SKIP LOCKED` in one transaction, POSTs each envelope to the feature
service's `/internal/v1/events` and records the outcome before committing. Any number of
replicas can run it side by side: a row another pass holds is skipped, not waited for, and it
is delivered by the pass that holds it. Delivery is at-least-once (a crash after the feature
service acknowledged but before the commit sends the event again); the receiver records event
ids, so handling is exactly-once in effect.

`deliver(envelope)` is the one function that talks HTTP and decides what an answer means; the
Pact consumer test drives it against the contract's mock.
"""

from __future__ import annotations

import enum
import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from alephdraad_contracts import bind_request_id, new_request_id, reset_request_id
from alephdraad_core.internal.peers import feature_client
from alephdraad_core.outbox.models import OutboxEvent

logger = logging.getLogger(__name__)

EVENTS_PATH = "/internal/v1/events"
# How much of a refusal's body is kept in last_error and the log: enough for a problem+json
# detail, never a whole error page.
BODY_EXCERPT_CHARS = 500
# Up to this fraction is taken off each backoff at random, so events (and replicas) that failed
# together do not all come back in the same second. Taken off rather than added so that
# CORE_OUTBOX_MAX_BACKOFF_SECONDS stays the longest pause, as documented.
BACKOFF_JITTER = 0.1
# 4xx answers that say "not now" rather than "never": a signature refused because keys are out
# of step (401/403, fixed by configuration, not by changing the event), a timeout, a conflict,
# "too early" and rate limiting. Every other 4xx means the consumer will never accept this
# envelope, so retrying it would only block the outbox.
TRANSIENT_CLIENT_ERRORS = frozenset({401, 403, 408, 409, 425, 429})

# Not a cryptographic use: jitter only spreads retries.
_jitter = random.Random()  # noqa: S311


class Verdict(enum.StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    DEAD = "dead"


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    """What one delivery attempt came to."""

    verdict: Verdict
    # The HTTP status, None when there was no answer.
    status: int | None = None
    # For last_error: what went wrong, empty when delivered.
    error: str = ""
    # No answer at all (connection refused, timeout, not configured): every later event of the
    # batch would fail the same way, so the pass stops instead of hammering a peer that is down.
    unreachable: bool = False


@dataclass(frozen=True, slots=True)
class DispatchReport:
    """What one `dispatch_due` pass did."""

    claimed: int = 0
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    # The feature service could not be reached; the events after the failing one were left
    # untouched (still due) for the next pass.
    stopped_early: bool = False
    # The batch was full, ran to its end and settled something: more events may be due right
    # now and worth a pass without waiting. (A full batch of transient failures is not: the
    # feature service is struggling, and the worker's poll interval gives it a breather.)
    more_due: bool = False


def deliver(envelope: Mapping[str, Any]) -> DeliveryOutcome:
    """POST one event envelope to the feature service and classify the answer.

    2xx is delivered (the receiver answers `handled` or `duplicate`, both mean "have it"); a
    permanent 4xx is dead; everything else is retried later. Never raises for a network or
    HTTP failure: the caller needs an outcome to record, not an exception."""
    client = feature_client()
    if client is None:
        return DeliveryOutcome(
            Verdict.RETRY,
            error="not configured: CORE_INTERNAL_SIGNING_KEY is not set",
            unreachable=True,
        )
    try:
        response = client.post(EVENTS_PATH, json=dict(envelope))
    except httpx.TransportError as error:
        # Connection refused or reset, DNS, and every timeout (connect, read, write, pool):
        # a peer that does not answer in time is treated like one that is down.
        return DeliveryOutcome(
            Verdict.RETRY, error=f"{type(error).__name__}: {error}"[:2000], unreachable=True
        )
    status = response.status_code
    if 200 <= status < 300:
        return DeliveryOutcome(Verdict.DELIVERED, status=status)
    excerpt = f"HTTP {status}: {response.text[:BODY_EXCERPT_CHARS]}"
    if 400 <= status < 500 and status not in TRANSIENT_CLIENT_ERRORS:
        return DeliveryOutcome(Verdict.DEAD, status=status, error=excerpt)
    # 5xx, the transient 4xx above, and a 1xx/3xx nobody should send here (a misrouted URL
    # is fixed by configuration; the event stays valid).
    return DeliveryOutcome(Verdict.RETRY, status=status, error=excerpt)


def backoff(attempts: int) -> timedelta:
    """The pause after the `attempts`-th failed attempt: 1 s doubling up to
    OUTBOX_MAX_BACKOFF_SECONDS, minus up to 10 % jitter."""
    ceiling: int = settings.OUTBOX_MAX_BACKOFF_SECONDS
    # The exponent is capped so a years-old event's attempt count cannot make a huge integer.
    seconds = min(2 ** min(max(attempts - 1, 0), 32), ceiling)
    return timedelta(seconds=seconds * (1 - _jitter.uniform(0, BACKOFF_JITTER)))


def dispatch_due(*, now: datetime | None = None, limit: int | None = None) -> DispatchReport:
    """Deliver the due pending events, oldest id first, in one transaction; return what
    happened.

    Locks: the claimed `event_outbox` rows (FOR UPDATE SKIP LOCKED) until the pass commits, so
    a concurrent pass in another replica takes other rows. `now` fixes the clock for tests;
    by default "due" is judged at the start of the pass and backoff from each failure."""
    batch = limit if limit is not None else settings.OUTBOX_BATCH_SIZE
    moment = now if now is not None else timezone.now()
    counts = dict.fromkeys(Verdict, 0)
    stopped_early = False
    with transaction.atomic():
        events = list(
            OutboxEvent.objects.select_for_update(skip_locked=True)
            .filter(status=OutboxEvent.Status.PENDING, next_attempt_at__lte=moment)
            .order_by("id")[:batch]
        )
        for event in events:
            # The request that caused the event travels with it (the signing client sends the
            # bound id as X-Request-ID, and the log lines below carry it), so one change can be
            # followed through both services' logs.
            token = bind_request_id(event.request_id or new_request_id())
            try:
                outcome = deliver(event.envelope)
                _record(event, outcome, now=now if now is not None else timezone.now())
            finally:
                reset_request_id(token)
            counts[outcome.verdict] += 1
            if outcome.unreachable:
                stopped_early = True
                untouched = len(events) - sum(counts.values())
                logger.warning(
                    "feature service unreachable; dispatch pass stopped",
                    extra={"event_id": event.pk, "left_for_next_pass": untouched},
                )
                break
    settled = counts[Verdict.DELIVERED] + counts[Verdict.DEAD]
    return DispatchReport(
        claimed=len(events),
        delivered=counts[Verdict.DELIVERED],
        retried=counts[Verdict.RETRY],
        dead=counts[Verdict.DEAD],
        stopped_early=stopped_early,
        more_due=len(events) >= batch and not stopped_early and settled > 0,
    )


def _record(event: OutboxEvent, outcome: DeliveryOutcome, *, now: datetime) -> None:
    event.attempts += 1
    extra = {
        "event_id": event.pk,
        "event_type": event.type,
        "attempts": event.attempts,
        "status": outcome.status,
    }
    if outcome.verdict is Verdict.DELIVERED:
        event.status = OutboxEvent.Status.DELIVERED
        event.delivered_at = now
        event.last_error = ""
        logger.info("event delivered", extra=extra)
    elif outcome.verdict is Verdict.DEAD:
        event.status = OutboxEvent.Status.DEAD
        event.last_error = outcome.error
        # An operator must look: the feature service will never take this envelope as it is
        # (`manage.py outbox retry` sends it again once the cause is fixed).
        logger.error("event refused for good", extra={**extra, "error": outcome.error})
    else:
        event.next_attempt_at = now + backoff(event.attempts)
        event.last_error = outcome.error
        logger.warning(
            "event delivery failed; will retry",
            extra={**extra, "error": outcome.error, "next_attempt_at": event.next_attempt_at},
        )
    event.save(
        update_fields=["status", "attempts", "next_attempt_at", "last_error", "delivered_at"]
    )
