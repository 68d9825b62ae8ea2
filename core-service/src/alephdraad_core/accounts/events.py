"""Events accounts publish (DESIGN section 7): the feature service keeps copies of usernames and
hangs data on user ids, so it hears about every account that appears, is renamed or is deleted.

Each function writes one row to the outbox and must be called inside the transaction that makes
the change (`do_emit_event` refuses otherwise): the event commits exactly when the change does.
"""

from __future__ import annotations

from alephdraad_contracts import USER_DELETED, USER_REGISTERED, USER_RENAMED
from alephdraad_core.accounts.models import User
from alephdraad_core.outbox.models import OutboxEvent
from alephdraad_core.outbox.services import do_emit_event


def emit_user_registered(user: User) -> OutboxEvent:
    return do_emit_event(USER_REGISTERED, {"user_id": user.pk, "username": user.username})


def emit_user_renamed(user: User, *, old_username: str) -> OutboxEvent:
    """`user` carries the new name; consumers rewrite their copies of `old_username`."""
    return do_emit_event(
        USER_RENAMED,
        {"user_id": user.pk, "old_username": old_username, "username": user.username},
    )


def emit_user_deleted(user_id: int) -> OutboxEvent:
    """Only the id: the account is anonymised already, and consumers must not learn anything
    from the event that the tombstone no longer holds."""
    return do_emit_event(USER_DELETED, {"user_id": user_id})
