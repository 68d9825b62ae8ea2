"""Second-factor routes; the root urls.py mounts them under api/v1/."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from alephdraad_core.mfa import api

urlpatterns: list[URLPattern | URLResolver] = [
    path("auth/totp", api.TotpStatusView.as_view(), name="mfa-totp"),
    path("auth/totp/setup", api.TotpSetupView.as_view(), name="mfa-totp-setup"),
    path("auth/totp/enable", api.TotpEnableView.as_view(), name="mfa-totp-enable"),
    path("auth/totp/disable", api.TotpDisableView.as_view(), name="mfa-totp-disable"),
    path("auth/backup-codes", api.BackupCodesStatusView.as_view(), name="mfa-backup-codes"),
    path(
        "auth/backup-codes/regenerate",
        api.BackupCodesRegenerateView.as_view(),
        name="mfa-backup-codes-regenerate",
    ),
    path("auth/login/totp", api.MfaLoginTotpView.as_view(), name="mfa-login-totp"),
    path(
        "auth/login/backup-code", api.MfaLoginBackupCodeView.as_view(), name="mfa-login-backup-code"
    ),
]
