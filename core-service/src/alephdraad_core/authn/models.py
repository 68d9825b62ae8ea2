"""Login sessions (seed table `sessions`) and the refresh tokens rotated within each."""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone


class Session(models.Model):
    """One login on one device: a refresh-token family. Revoking it ends the family at once."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sessions"
    )
    # HMAC-SHA256 of the client's fingerprint with a server pepper; the raw value is never kept.
    device_fingerprint = models.CharField(max_length=64, null=True, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True, default="")
    # How the user authenticated at login: "pwd", "otp", "hwk" (DESIGN section 4).
    amr = models.JSONField(default=list)
    is_revoked = models.BooleanField(default=False)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=64, blank=True, default="")
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)
    last_active_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "sessions"
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["user"], name="idx_sessions_user"),
            models.Index(fields=["expires_at"], name="idx_sessions_expires"),
            models.Index(
                fields=["user", "created_at"],
                name="idx_sessions_user_live",
                condition=models.Q(is_revoked=False),
            ),
        ]

    def __str__(self) -> str:
        return f"Session {self.pk} of user {self.user_id}"

    def is_live(self, now: object = None) -> bool:
        moment = now or timezone.now()
        return not self.is_revoked and self.expires_at > moment  # type: ignore[operator]


class RefreshToken(models.Model):
    """One refresh token of a session's family, stored only as its SHA-256.

    The current token has `rotated_at` null. Presenting a rotated token within the grace window
    of its rotation (a second tab refreshing at the same moment) returns the pair that
    replaced it; later, it is reuse, and the whole session is revoked.
    """

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="refresh_tokens")
    token_hash = models.CharField(max_length=64, unique=True)
    # The access token issued with this refresh token, so a grace-window replay can rebuild the
    # identical pair (Ed25519 signatures are deterministic).
    access_jti = models.CharField(max_length=64)
    access_issued_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)
    rotated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "refresh_tokens"
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["session", "created_at"], name="idx_refresh_session_created"),
        ]

    def __str__(self) -> str:
        return f"RefreshToken {self.pk} of session {self.session_id}"
