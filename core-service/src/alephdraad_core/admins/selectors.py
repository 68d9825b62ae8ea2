"""What an admin may read: users (with their live sessions). Security events are read through
security.selectors."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q, QuerySet
from django.db.models.functions import Lower
from django.utils import timezone

from alephdraad_core.accounts.models import User
from alephdraad_core.admins.errors import UserNotFound
from alephdraad_core.admins.models import Admin
from alephdraad_core.authn.models import Session
from alephdraad_core.platform.pagination import KeysetPagination

# Newest accounts first; (created_at, id) keeps the order total for the cursor.
USER_PAGES = KeysetPagination(scope="admin.users", key="created_at")


def access_user(actor: Admin, user_id: int) -> User:
    """The user, for an admin. Every active admin may see every user (there are no admin roles
    yet, as in the original); the actor is taken so that a role check has one place to go.
    One query; an unknown id (or one beyond bigint) is USER_NOT_FOUND."""
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        raise UserNotFound(f"There is no user {user_id}.")
    return user


def users_visible_to(actor: Admin, *, search: str = "") -> QuerySet[User]:
    """Users whose email or username starts with `search`, case-insensitively (all when empty).

    A prefix, not a substring: `LOWER(email) LIKE 'q%'` and `username LIKE 'q%'` can be answered
    by btree pattern indexes, where `%q%` would scan the table. Usernames are lower case by
    rule, so the term is lower-cased for both.
    """
    users = User.objects.all()
    term = search.strip().lower()
    if term:
        users = users.alias(email_lower=Lower("email")).filter(
            Q(email_lower__startswith=term) | Q(username__startswith=term)
        )
    return users


def live_sessions_of(actor: Admin, user: User, now: datetime | None = None) -> list[Session]:
    """The user's sessions that are neither revoked nor expired, newest first. One query,
    served by idx_sessions_user_live; a user has at most a handful, so no paging."""
    return list(
        Session.objects.filter(
            user_id=user.pk, is_revoked=False, expires_at__gt=now or timezone.now()
        ).order_by("-created_at", "-id")
    )
