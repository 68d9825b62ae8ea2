"""Passkey routes; the root urls.py mounts them under api/v1/."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from alephdraad_core.passkeys import api

urlpatterns: list[URLPattern | URLResolver] = [
    path("auth/passkeys", api.PasskeyListView.as_view(), name="passkeys"),
    path(
        "auth/passkeys/register/begin",
        api.PasskeyRegisterBeginView.as_view(),
        name="passkeys-register-begin",
    ),
    path(
        "auth/passkeys/register/finish",
        api.PasskeyRegisterFinishView.as_view(),
        name="passkeys-register-finish",
    ),
    path(
        "auth/passkeys/login/begin",
        api.PasskeyLoginBeginView.as_view(),
        name="passkeys-login-begin",
    ),
    path(
        "auth/passkeys/login/finish",
        api.PasskeyLoginFinishView.as_view(),
        name="passkeys-login-finish",
    ),
    # str, not int: a malformed id is the same PASSKEY_NOT_FOUND as someone else's.
    path("auth/passkeys/<str:passkey_id>", api.PasskeyDetailView.as_view(), name="passkey-detail"),
    path("auth/sudo/passkey/begin", api.SudoPasskeyBeginView.as_view(), name="sudo-passkey-begin"),
    path(
        "auth/sudo/passkey/finish", api.SudoPasskeyFinishView.as_view(), name="sudo-passkey-finish"
    ),
]
