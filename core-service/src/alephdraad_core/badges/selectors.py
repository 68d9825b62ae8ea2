"""Reads of badges: the catalogue with holder counts, and who holds what."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from alephdraad_core.accounts.models import User
from alephdraad_core.badges.errors import BadgeNotFound
from alephdraad_core.badges.models import Badge, UserBadge


def badges_with_holder_counts() -> QuerySet[Badge]:
    """Every badge with `holder_count`, oldest first: one query (a LEFT JOIN on user_badges
    grouped by badge, served by idx_user_badges_badge). The catalogue is small and curated by
    admins, so it is listed whole rather than paged."""
    return Badge.objects.annotate(holder_count=Count("holders")).order_by("id")


def access_badge(badge_id: int) -> Badge:
    """A badge with its `holder_count`, for anyone (the catalogue is public); one query.
    An unknown id (or one beyond bigint) is BADGE_NOT_FOUND."""
    badge = badges_with_holder_counts().filter(pk=badge_id).first()
    if badge is None:
        raise BadgeNotFound(f"There is no badge {badge_id}.")
    return badge


def badges_held_by(user: User) -> list[UserBadge]:
    """The user's badges, most recently awarded first, each with its Badge: one query."""
    return list(
        UserBadge.objects.filter(user_id=user.pk)
        .select_related("badge")
        .order_by("-awarded_at", "-id")
    )
