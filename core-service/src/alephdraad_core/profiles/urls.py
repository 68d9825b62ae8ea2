"""Public profile routes; the root urls.py mounts them under api/v1/."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from alephdraad_core.profiles import api

urlpatterns: list[URLPattern | URLResolver] = [
    path("users/<str:username>", api.PublicProfileView.as_view(), name="profile"),
    path(
        "users/<str:username>/threads",
        api.PublicProfileThreadsView.as_view(),
        name="profile-threads",
    ),
]
