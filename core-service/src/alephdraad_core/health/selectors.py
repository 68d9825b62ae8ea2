"""Read-only checks of the dependencies this service needs to answer requests."""

from __future__ import annotations

import logging
from typing import Any

from django.db import DEFAULT_DB_ALIAS, Error, connections

from alephdraad_core.outbox.selectors import outbox_backlog

logger = logging.getLogger(__name__)


def database_is_reachable() -> bool:
    """True when a `SELECT 1` round trip to the database succeeds.

    Any driver or connection error means "not ready", never a crash: the probe's whole job is
    to report the failure. connect_timeout (settings.py) bounds how long this can block.
    """
    connection = connections[DEFAULT_DB_ALIAS]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Error as error:
        logger.warning("database unreachable", extra={"error": str(error)})
        return False
    return True


def outbox_detail() -> dict[str, Any] | None:
    """The outbox backlog for /readyz, or None when it cannot be read (e.g. a release whose
    migrations have not run yet): information must not turn a ready service into a 500."""
    try:
        backlog = outbox_backlog()
    except Error as error:
        logger.warning("outbox backlog unreadable", extra={"error": str(error)})
        return None
    return {
        "pending": backlog.pending,
        "dead": backlog.dead,
        "oldest_pending_seconds": backlog.oldest_pending_seconds,
    }
