"""Admin routes; mounted by the root urls.py at api/v1/admin/."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from alephdraad_core.admins.api import (
    AdminLoginView,
    AdminUserDetailView,
    AdminUserListView,
    AdminUserLockView,
    AdminUserSessionsRevokeView,
    AdminUserUnlockView,
    SecurityEventListView,
)

urlpatterns: list[URLPattern | URLResolver] = [
    path("auth/login", AdminLoginView.as_view(), name="admin-login"),
    path("users", AdminUserListView.as_view(), name="admin-users"),
    path("users/<int:user_id>", AdminUserDetailView.as_view(), name="admin-user"),
    path("users/<int:user_id>/lock", AdminUserLockView.as_view(), name="admin-user-lock"),
    path("users/<int:user_id>/unlock", AdminUserUnlockView.as_view(), name="admin-user-unlock"),
    path(
        "users/<int:user_id>/sessions/revoke",
        AdminUserSessionsRevokeView.as_view(),
        name="admin-user-sessions-revoke",
    ),
    path("security-events", SecurityEventListView.as_view(), name="admin-security-events"),
]
