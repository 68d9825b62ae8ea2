"""Authentication routes; mounted by the root urls.py (api/v1/… and /.well-known/)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from alephdraad_core.authn.api import (
    JwksView,
    LoginView,
    LogoutAllView,
    LogoutView,
    RefreshView,
    SessionDetailView,
    SessionListView,
)

well_known_urlpatterns = [
    path(".well-known/jwks.json", JwksView.as_view(), name="jwks"),
]

urlpatterns: list[URLPattern | URLResolver] = [
    path("auth/login", LoginView.as_view(), name="auth-login"),
    path("auth/refresh", RefreshView.as_view(), name="auth-refresh"),
    path("auth/logout", LogoutView.as_view(), name="auth-logout"),
    path("auth/logout-all", LogoutAllView.as_view(), name="auth-logout-all"),
    path("sessions", SessionListView.as_view(), name="sessions"),
    # str, not uuid: a malformed id is the same SESSION_NOT_FOUND as someone else's.
    path("sessions/<str:session_id>", SessionDetailView.as_view(), name="session-detail"),
]
