"""The security audit log and the rate-limit counters every replica shares."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone


class SecurityEvent(models.Model):
    """Append-only record of a security-relevant fact (login, lockout, reuse, admin action)."""

    event_type = models.CharField(max_length=64)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    admin = models.ForeignKey(
        "admins.Admin", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True, default="")
    request_id = models.CharField(max_length=128, blank=True, default="")
    details = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "security_events"
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["user", "event_type", "created_at"], name="idx_secevt_user_type"),
            models.Index(fields=["user", "-created_at", "-id"], name="idx_secevt_user_recent"),
            models.Index(fields=["-created_at", "-id"], name="idx_secevt_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} at {self.created_at:%Y-%m-%dT%H:%M:%SZ}"


class RateLimitCounter(models.Model):
    """Hits of one key (`scope:identity`) in its current fixed window."""

    key = models.CharField(max_length=255, primary_key=True)
    window_start = models.DateTimeField()
    hits = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField()

    class Meta:
        db_table = "rate_limits"
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["expires_at"], name="idx_rate_limits_expires"),
        ]

    def __str__(self) -> str:
        return f"{self.key}: {self.hits}"
