"""Internal routes; the root urls.py mounts them under internal/v1/ (never routed by the
gateway)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from alephdraad_core.internal.api import DeviceHashesView, LookupView, SessionStateView

urlpatterns: list[URLPattern | URLResolver] = [
    path("lookup", LookupView.as_view(), name="internal-lookup"),
    path("sessions/<str:sid>", SessionStateView.as_view(), name="internal-session"),
    path(
        "users/<int:user_id>/device-hashes",
        DeviceHashesView.as_view(),
        name="internal-device-hashes",
    ),
]
