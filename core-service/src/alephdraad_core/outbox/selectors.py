"""Reads of the outbox: its backlog for /readyz and `manage.py outbox status`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.utils import timezone

from alephdraad_core.outbox.models import OutboxEvent

_PENDING = OutboxEvent.Status.PENDING.value
_DEAD = OutboxEvent.Status.DEAD.value


@dataclass(frozen=True, slots=True)
class OutboxBacklog:
    pending: int
    # Pending events whose next attempt is due (the rest are backing off); None when not asked.
    due: int | None
    dead: int
    # Age of the oldest pending event, from when it happened; None when nothing is pending.
    oldest_pending_seconds: float | None


def outbox_backlog(*, now: datetime | None = None, count_due: bool = False) -> OutboxBacklog:
    """The outbox backlog in one round trip.

    Two scalar subqueries rather than one scan with FILTERs: each is restricted to one status,
    so PostgreSQL answers it from that status's partial index (`idx_event_outbox_due`,
    `idx_event_outbox_dead`) and never reads the delivered events that make up the bulk of the
    table. The readiness probe runs this every few seconds."""
    moment = now if now is not None else timezone.now()
    table = OutboxEvent._meta.db_table
    due_sql = "count(*) FILTER (WHERE next_attempt_at <= %(now)s)" if count_due else "NULL::bigint"
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT pending.n, pending.due, pending.oldest,
                   (SELECT count(*) FROM {table} WHERE status = %(dead)s)
            FROM (
                SELECT count(*) AS n, {due_sql} AS due, min(occurred_at) AS oldest
                FROM {table} WHERE status = %(pending)s
            ) AS pending
            """,  # noqa: S608 - the table name and SQL fragments are ours; values are parameters
            {"now": moment, "pending": _PENDING, "dead": _DEAD},
        )
        pending, due, oldest, dead = cursor.fetchone()
    age = None if oldest is None else round(max((moment - oldest).total_seconds(), 0.0), 3)
    return OutboxBacklog(pending=pending, due=due, dead=dead, oldest_pending_seconds=age)
