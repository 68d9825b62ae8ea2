"""Sudo grants: a short-lived proof that the person at a session re-authenticated."""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils import timezone

from alephdraad_core.authn.models import Session


class SudoGrant(models.Model):
    """Bound to one session: the token is useless with any other session's access token."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="sudo_grants")
    token_hash = models.CharField(max_length=64, unique=True)
    # How presence was proven: "pwd", "pwd+otp", "pwd+backup", "hwk".
    method = models.CharField(max_length=32)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "sudo_grants"
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["session", "expires_at"], name="idx_sudo_session_expires"),
        ]

    def __str__(self) -> str:
        return f"SudoGrant {self.pk} of session {self.session_id}"
