"""Sudo-mode routes; the root urls.py mounts them under api/v1/."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from alephdraad_core.sudo.api import SudoView

urlpatterns: list[URLPattern | URLResolver] = [
    path("auth/sudo", SudoView.as_view(), name="auth-sudo"),
]
