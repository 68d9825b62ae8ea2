"""Backup codes (seed table `backup_codes`) and the pending second step of a login.

The TOTP secret itself lives in django-otp's `otp_totp_totpdevice.key` (hex), one device per
user; the seed column `users.totp_secret` is kept but stays null (README.md in this package).
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone


class BackupCode(models.Model):
    """One single-use recovery code, stored only as its keyed hash (HMAC-SHA256, pepper)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="backup_codes"
    )
    code_hash = models.CharField(max_length=64)
    is_used = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "backup_codes"
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["user", "code_hash"], name="uniq_backup_codes_user_hash"
            ),
        ]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(
                fields=["user"],
                name="idx_backup_codes_user_unused",
                condition=models.Q(is_used=False),
            ),
        ]

    def __str__(self) -> str:
        return f"BackupCode {self.pk} of user {self.user_id}"


class MfaLoginToken(models.Model):
    """A password login waiting for its second factor: random, hashed, single use, 5 minutes.

    It carries what the first step learnt that the session needs: the keyed hash of the device
    fingerprint (never the raw value) and the client's address.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mfa_login_tokens"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    device_fingerprint = models.CharField(max_length=64, null=True, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "mfa_login_tokens"
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["user"], name="idx_mfa_login_tokens_user"),
            models.Index(fields=["expires_at"], name="idx_mfa_login_tokens_expires"),
        ]

    def __str__(self) -> str:
        return f"MfaLoginToken {self.pk} of user {self.user_id}"
