"""Operator accounts (seed table `admins`): a separate table and token audience, never a flag
on users."""

from __future__ import annotations

from typing import ClassVar

from django.contrib.auth.hashers import check_password, make_password
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone


class Admin(models.Model):
    email = models.EmailField(max_length=254)
    username = models.CharField(max_length=30)
    password_hash = models.CharField(max_length=255)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_login_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "admins"
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(Lower("email"), name="idx_admins_email"),
            # Admin tokens and the audit trail name admins by username: one name, one person.
            models.UniqueConstraint(fields=["username"], name="idx_admins_username"),
        ]

    def __str__(self) -> str:
        return f"Admin {self.pk} ({self.username})"

    # DRF's permission machinery asks these of request.user.
    @property
    def is_authenticated(self) -> bool:
        return True

    def set_password(self, raw_password: str) -> None:
        self.password_hash = make_password(raw_password)

    def check_password(self, raw_password: str) -> bool:
        return check_password(raw_password, self.password_hash)
