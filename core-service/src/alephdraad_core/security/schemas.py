"""Shapes of the security audit log as admins read it."""

from __future__ import annotations

from rest_framework import serializers

from alephdraad_core.platform.pagination import PageQuerySerializer, page_serializer

MAX_ID = 2**63 - 1


class SecurityEventQuerySerializer(PageQuerySerializer):
    user_id = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text="Only this user's events."
    )
    event_type = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=64,
        help_text='Only events of this type, e.g. "login_failed".',
    )


class SecurityEventSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    event_type = serializers.CharField()
    user_id = serializers.IntegerField(allow_null=True)
    admin_id = serializers.IntegerField(allow_null=True)
    ip_address = serializers.IPAddressField(allow_null=True)
    user_agent = serializers.CharField(allow_blank=True)
    request_id = serializers.CharField(allow_blank=True)
    details = serializers.DictField(help_text="Event-specific facts (reason, counts, …).")
    created_at = serializers.DateTimeField()


SecurityEventPageSerializer = page_serializer(
    SecurityEventSerializer, "SecurityEventPageSerializer"
)
