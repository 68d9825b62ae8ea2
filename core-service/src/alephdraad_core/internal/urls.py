"""Internal routes; the root urls.py mounts them under internal/v1/ (never routed by the
gateway)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from alephdraad_core.internal.api import (
    DeviceHashesView,
    EventsView,
    LookupView,
    SessionStateView,
    ThreadDeleteCommandView,
    UserLockCommandView,
)

urlpatterns: list[URLPattern | URLResolver] = [
    path("events", EventsView.as_view(), name="internal-events"),
    path("lookup", LookupView.as_view(), name="internal-lookup"),
    path("sessions/<str:sid>", SessionStateView.as_view(), name="internal-session"),
    path(
        "users/<int:user_id>/device-hashes",
        DeviceHashesView.as_view(),
        name="internal-device-hashes",
    ),
    path(
        "threads/<int:thread_id>/delete",
        ThreadDeleteCommandView.as_view(),
        name="internal-thread-delete",
    ),
    path("users/<int:user_id>/lock", UserLockCommandView.as_view(), name="internal-user-lock"),
]
