"""Reading the security audit log (admins only)."""

from __future__ import annotations

from django.db.models import QuerySet

from alephdraad_core.admins.models import Admin
from alephdraad_core.platform.pagination import KeysetPagination
from alephdraad_core.security.models import SecurityEvent

# Newest first, in the order of idx_secevt_recent (and idx_secevt_user_recent with a user).
SECURITY_EVENT_PAGES = KeysetPagination(scope="admin.security_events", key="created_at")


def security_events_visible_to(
    actor: Admin, *, user_id: int | None = None, event_type: str | None = None
) -> QuerySet[SecurityEvent]:
    """Events an admin may read (all of them), optionally of one user and/or one type.
    Paginated by SECURITY_EVENT_PAGES; user ids are returned as ids, no join."""
    events = SecurityEvent.objects.all()
    if user_id is not None:
        events = events.filter(user_id=user_id)
    if event_type:
        events = events.filter(event_type=event_type)
    return events
