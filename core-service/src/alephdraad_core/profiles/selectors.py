"""Reads behind public profiles: a user's public face and their live threads.

Only public data leaves here (username, full name, avatar, badges, join date, thread count);
the queries load no other column of the user, so nothing private can leak by accident.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from alephdraad_core.accounts.models import User
from alephdraad_core.accounts.policy import USERNAME_PATTERN
from alephdraad_core.admins.errors import UserNotFound
from alephdraad_core.badges.models import Badge, UserBadge
from alephdraad_core.badges.selectors import badges_held_by
from alephdraad_core.content.models import Thread
from alephdraad_core.platform.pagination import KeysetPagination

# The columns of users a public view may read.
PUBLIC_USER_COLUMNS = ("id", "username", "full_name", "avatar_url", "created_at")


@dataclass(frozen=True)
class PublicProfile:
    username: str
    full_name: str
    avatar_url: str | None
    joined_at: datetime
    thread_count: int
    badges: list[UserBadge]
    primary_badge: Badge | None


def _live_thread_count() -> Subquery:
    """COUNT of the outer user's live threads, as a correlated subquery (served by the partial
    index idx_threads_live_author), so the count costs no extra query and no row per thread."""
    counted = (
        Thread.objects.filter(author_id=OuterRef("pk"), is_deleted=False)
        .order_by()
        .values("author_id")
        .annotate(live=Count("pk"))
        .values("live")
    )
    return Subquery(counted, output_field=IntegerField())


def access_public_user(username: str, *, with_thread_count: bool = False) -> User:
    """The user named `username` with only the public columns loaded (and `thread_count`
    annotated when asked); one query. Unknown names, and strings no username can be, are
    USER_NOT_FOUND.

    Locked users keep their public profile: a lock keeps someone from signing in, it does not
    unpublish what they wrote, and their threads still link here."""
    if not USERNAME_PATTERN.fullmatch(username):
        raise UserNotFound("There is no such user.")
    users = User.objects.filter(username=username).only(*PUBLIC_USER_COLUMNS)
    if with_thread_count:
        users = users.annotate(thread_count=Coalesce(_live_thread_count(), Value(0)))
    user = users.first()
    if user is None:
        raise UserNotFound("There is no such user.")
    return user


def public_profile(username: str) -> PublicProfile:
    """Everything GET /users/{username} shows: two queries (the user with the thread count,
    then the badges with their Badge rows)."""
    user = access_public_user(username, with_thread_count=True)
    held = badges_held_by(user)
    primary = next((row.badge for row in held if row.is_primary), None)
    return PublicProfile(
        username=user.username,
        full_name=user.full_name,
        avatar_url=user.avatar_url,
        joined_at=user.created_at,
        thread_count=user.thread_count,  # type: ignore[attr-defined]  # annotated above
        badges=held,
        primary_badge=primary,
    )


def thread_pages_of(user: User) -> KeysetPagination:
    """Newest first by (created_at, id); the scope names the user, so a cursor of one
    profile's list is refused on another's."""
    return KeysetPagination(scope=f"profiles.threads.{user.pk}", key="created_at")


def live_threads_of(user: User) -> QuerySet[Thread]:
    """The user's threads that are not deleted, with their category in the same query; the
    keyset page over it is served by idx_threads_live_author. Only the listed columns are
    loaded: content_json can be 64 KB per thread and a list does not show it."""
    return (
        Thread.objects.filter(author_id=user.pk, is_deleted=False)
        .select_related("category")
        .only(
            "id",
            "title",
            "summary",
            "created_at",
            "updated_at",
            "category__slug",
            "category__name",
        )
    )
