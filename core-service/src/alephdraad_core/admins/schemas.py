"""Request and response shapes of the admin API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone
from rest_framework import serializers

from alephdraad_core.accounts.models import User
from alephdraad_core.admins.services import PASSWORD_MAX_LENGTH
from alephdraad_core.platform.pagination import PageQuerySerializer, page_serializer
from alephdraad_core.platform.serializers import StrictSerializer, TextField

LOCK_REASON_MAX_LENGTH = 500


class AdminLoginSerializer(StrictSerializer):
    email = serializers.EmailField(max_length=254)
    password = TextField(max_length=PASSWORD_MAX_LENGTH, trim_whitespace=False)


class AdminSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    username = serializers.CharField()


class AdminTokenSerializer(serializers.Serializer):
    access_token = serializers.CharField(
        help_text="EdDSA JWT with audience alephdraad:admin; refused by every user endpoint."
    )
    token_type = serializers.CharField(help_text='Always "Bearer".')
    expires_in = serializers.IntegerField(help_text="Seconds until the token expires (600).")
    admin = AdminSummarySerializer()


class AdminUserListQuerySerializer(PageQuerySerializer):
    q = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=254,
        help_text="Case-insensitive prefix of the email or the username; empty lists everyone.",
    )


class AdminUserSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    username = serializers.CharField()
    full_name = serializers.CharField()
    is_verified = serializers.BooleanField()
    is_locked = serializers.BooleanField(
        help_text="Whether an admin lock is in force now (a lock whose `locked_until` has "
        "passed no longer counts)."
    )
    locked_reason = serializers.CharField(help_text='"" when not locked.')
    locked_until = serializers.DateTimeField(
        allow_null=True, help_text="End of the lock; null when not locked or locked until unlocked."
    )
    totp_enabled = serializers.BooleanField()
    created_at = serializers.DateTimeField()

    def to_representation(self, instance: User) -> dict[str, Any]:
        data: dict[str, Any] = super().to_representation(instance)
        locked = instance.lock_is_active()
        data["is_locked"] = locked
        if not locked:
            data["locked_reason"] = ""
            data["locked_until"] = None
        return data


AdminUserPageSerializer = page_serializer(AdminUserSerializer, "AdminUserPageSerializer")


class AdminUserSessionSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    ip_address = serializers.IPAddressField(allow_null=True)
    user_agent = serializers.CharField()
    created_at = serializers.DateTimeField()
    last_active_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()


class AdminUserDetailSerializer(AdminUserSerializer):
    """A user as admins see them, with their live sessions."""

    sessions = AdminUserSessionSerializer(
        many=True, help_text="Live sessions (neither revoked nor expired), newest first."
    )


class AdminUserLockSerializer(StrictSerializer):
    reason = TextField(min_length=1, max_length=LOCK_REASON_MAX_LENGTH)
    until = serializers.DateTimeField(
        required=False,
        allow_null=True,
        default=None,
        help_text="ISO 8601 moment in the future when the lock ends; null or absent: until "
        "an admin unlocks.",
    )

    def validate_until(self, value: datetime | None) -> datetime | None:
        if value is not None and value <= timezone.now():
            raise serializers.ValidationError("Must be in the future.", code="rule")
        return value


class EmptyBodySerializer(StrictSerializer):
    """For POSTs that take no input: no body, or `{}`; any field is refused."""


class SessionsRevokedSerializer(serializers.Serializer):
    revoked = serializers.IntegerField(help_text="How many live sessions were revoked.")
