"""Badges and their holders (seed tables `badges`, `user_badges`)."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone


class Badge(models.Model):
    class Rarity(models.TextChoices):
        COMMON = "common"
        UNCOMMON = "uncommon"
        RARE = "rare"
        EPIC = "epic"
        LEGENDARY = "legendary"

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True, default="")
    icon_url = models.URLField(max_length=2048, blank=True, default="")
    color = models.CharField(max_length=7, blank=True, default="")
    rarity = models.CharField(max_length=16, choices=Rarity.choices, default=Rarity.COMMON)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "badges"

    def __str__(self) -> str:
        return self.name


class UserBadge(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="user_badges"
    )
    badge = models.ForeignKey(Badge, on_delete=models.PROTECT, related_name="holders")
    is_primary = models.BooleanField(default=False)
    awarded_at = models.DateTimeField(default=timezone.now)
    # The admin who awarded it (seed column); null if that admin row is gone.
    awarded_by = models.ForeignKey(
        "admins.Admin", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        db_table = "user_badges"
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["user", "badge"], name="uniq_user_badges_user_badge"),
            # At most one primary badge per user, enforced by the database.
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(is_primary=True),
                name="uniq_user_badges_one_primary",
            ),
        ]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["badge"], name="idx_user_badges_badge"),
        ]

    def __str__(self) -> str:
        return f"{self.badge_id} held by {self.user_id}"
