"""Badges routes. The root urls.py mounts `urlpatterns` under api/v1/ and
`admin_urlpatterns` under api/v1/admin/ (after the admins app's own routes)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from alephdraad_core.badges import api

urlpatterns: list[URLPattern | URLResolver] = [
    path("badges", api.BadgeListView.as_view(), name="badges"),
    path("badges/<int:badge_id>", api.BadgeDetailView.as_view(), name="badge"),
    path("me/primary-badge", api.PrimaryBadgeView.as_view(), name="me-primary-badge"),
]

admin_urlpatterns: list[URLPattern | URLResolver] = [
    path("badges", api.AdminBadgeListView.as_view(), name="admin-badges"),
    path("badges/<int:badge_id>", api.AdminBadgeDetailView.as_view(), name="admin-badge"),
    path(
        "users/<int:user_id>/badges",
        api.AdminUserBadgeListView.as_view(),
        name="admin-user-badges",
    ),
    path(
        "users/<int:user_id>/badges/<int:badge_id>",
        api.AdminUserBadgeDetailView.as_view(),
        name="admin-user-badge",
    ),
]
