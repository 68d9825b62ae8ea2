"""Accounts routes; the root urls.py mounts them under api/v1/."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from alephdraad_core.accounts import api

urlpatterns: list[URLPattern | URLResolver] = [
    path("auth/register", api.RegisterView.as_view(), name="accounts-register"),
    path(
        "auth/verify-email/confirm",
        api.VerifyEmailConfirmView.as_view(),
        name="accounts-verify-email-confirm",
    ),
    path(
        "auth/verify-email/request",
        api.VerifyEmailRequestView.as_view(),
        name="accounts-verify-email-request",
    ),
    path("auth/password/forgot", api.PasswordForgotView.as_view(), name="accounts-password-forgot"),
    path("auth/password/reset", api.PasswordResetView.as_view(), name="accounts-password-reset"),
    path("me", api.MeView.as_view(), name="accounts-me"),
    path("me/password", api.MePasswordView.as_view(), name="accounts-me-password"),
    path("me/username", api.MeUsernameView.as_view(), name="accounts-me-username"),
]
