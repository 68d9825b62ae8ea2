"""What the other services may ask core about its ids, each in a fixed number of queries, and
what their moderation commands may act on."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q

from alephdraad_core.accounts.models import User
from alephdraad_core.admins.models import Admin
from alephdraad_core.admins.services import Moderator, ServiceActor
from alephdraad_core.authn.models import Session
from alephdraad_core.content.errors import ThreadNotFound
from alephdraad_core.content.models import Thread
from alephdraad_core.internal.errors import UnknownActor, UserNotFound

# Fingerprints of sessions active within this period count as the user's recent devices.
DEVICE_HASH_PERIOD = timedelta(days=90)


def lookup(
    *,
    user_ids: Iterable[int],
    usernames: Iterable[str],
    thread_ids: Iterable[int],
    now: datetime,
) -> dict[str, dict[str, dict[str, Any]]]:
    """The state of each id asked about: one query for users (by id and by name together), one
    for threads (with their category); none for an empty list."""
    wanted_ids = list(dict.fromkeys(user_ids))
    wanted_names = list(dict.fromkeys(usernames))
    wanted_threads = list(dict.fromkeys(thread_ids))

    users: list[User] = []
    if wanted_ids or wanted_names:
        users = list(
            User.objects.filter(
                Q(pk__in=wanted_ids) | Q(username__in=[name.lower() for name in wanted_names])
            ).only("id", "username", "is_locked", "locked_until", "deleted_at")
        )
    by_id = {user.pk: user for user in users}
    # A tombstone's name is no name (a deleted account is never found by one).
    by_name = {user.username: user for user in users if user.deleted_at is None}

    threads: dict[int, Thread] = {}
    if wanted_threads:
        threads = {
            thread.pk: thread
            for thread in Thread.objects.filter(pk__in=wanted_threads)
            .select_related("category")
            .only("id", "is_deleted", "author_id", "category__slug")
        }

    result: dict[str, dict[str, dict[str, Any]]] = {"users": {}, "usernames": {}, "threads": {}}
    for user_id in wanted_ids:
        found = by_id.get(user_id)
        # A deleted account stays as an anonymised tombstone: it exists (its id is still an
        # author's), is deleted, and has no name or lock to report.
        deleted = found is not None and found.deleted_at is not None
        live = found if found is not None and not deleted else None
        result["users"][str(user_id)] = {
            "exists": found is not None,
            "username": live.username if live else None,
            "locked": live.lock_is_active(now) if live else False,
            "deleted": deleted,
        }
    for name in wanted_names:
        found = by_name.get(name.lower())
        result["usernames"][name] = {
            "exists": found is not None,
            "user_id": found.pk if found else None,
            "locked": found.lock_is_active(now) if found else False,
        }
    for thread_id in wanted_threads:
        thread = threads.get(thread_id)
        result["threads"][str(thread_id)] = {
            "exists": thread is not None,
            "deleted": thread.is_deleted if thread else False,
            "author_id": thread.author_id if thread else None,
            "category_slug": thread.category.slug if thread else None,
        }
    return result


def session_state(sid: str, *, now: datetime) -> dict[str, Any]:
    """Whether a session would still authenticate its access tokens (live, its user not
    locked). One query; a malformed id is simply not active."""
    try:
        session_id = uuid.UUID(sid)
    except ValueError:
        return {"active": False, "user_id": None}
    session = Session.objects.select_related("user").filter(pk=session_id).first()
    if session is None or not session.is_live(now) or session.user.lock_is_active(now):
        return {"active": False, "user_id": None}
    return {"active": True, "user_id": session.user_id}


def device_hashes(user_id: int, *, now: datetime) -> list[str]:
    """Distinct device-fingerprint HMACs of the user's sessions active in the last 90 days."""
    if not User.objects.filter(pk=user_id).exists():
        raise UserNotFound(f"There is no user {user_id}.")
    hashes = (
        Session.objects.filter(user_id=user_id, last_active_at__gte=now - DEVICE_HASH_PERIOD)
        .exclude(device_fingerprint__isnull=True)
        .exclude(device_fingerprint="")
        .values_list("device_fingerprint", flat=True)
        .distinct()
        .order_by("device_fingerprint")
    )
    return [value for value in hashes if value]


# --- moderation commands ------------------------------------------------------------------------


def resolve_actor(kind: str, actor_id: int | str) -> Moderator:
    """Who a moderation command acts for: an active admin (else 422 UNKNOWN_ACTOR), or a
    service's automated moderator, which has no row to check and is named as given."""
    if kind == "service":
        return ServiceActor(name=str(actor_id))
    admin = Admin.objects.filter(pk=actor_id, is_active=True).first()
    if admin is None:
        raise UnknownActor(int(actor_id))
    return admin


def access_thread_for_moderation(thread_id: int) -> Thread:
    """Any thread, deleted or not: moderation commands act on the whole forum (the signed
    caller is trusted to have authorised its moderator). An unknown id is THREAD_NOT_FOUND."""
    thread = Thread.objects.filter(pk=thread_id).only("id", "author_id", "is_deleted").first()
    if thread is None:
        raise ThreadNotFound(f"There is no thread {thread_id}.")
    return thread


def access_user_for_moderation(user_id: int) -> User:
    """The user a moderation command acts on; unknown and deleted (anonymised) accounts are
    USER_NOT_FOUND alike, since there is nobody left to act on."""
    user = User.objects.filter(pk=user_id, deleted_at__isnull=True).first()
    if user is None:
        raise UserNotFound(f"There is no user {user_id}.")
    return user
