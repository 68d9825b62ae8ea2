"""Public profile shapes. Everything here is shown to anonymous callers: tests pin each
serializer's exact field list, so a private field (email, sessions, lock, 2FA…) cannot be
added by accident."""

from __future__ import annotations

from rest_framework import serializers

from alephdraad_core.badges.models import Badge
from alephdraad_core.badges.schemas import BadgeSummarySerializer
from alephdraad_core.platform.pagination import PageQuerySerializer, page_serializer


class ProfileBadgeSerializer(serializers.Serializer):
    """A badge a user holds (from their user_badges row) and when it was awarded."""

    id = serializers.IntegerField(source="badge_id")
    name = serializers.CharField(source="badge.name")
    icon_url = serializers.CharField(source="badge.icon_url")
    color = serializers.CharField(source="badge.color")
    rarity = serializers.ChoiceField(source="badge.rarity", choices=Badge.Rarity.choices)
    awarded_at = serializers.DateTimeField()


class PublicProfileSerializer(serializers.Serializer):
    username = serializers.CharField()
    full_name = serializers.CharField()
    avatar_url = serializers.CharField(allow_null=True)
    primary_badge = BadgeSummarySerializer(allow_null=True)
    badges = ProfileBadgeSerializer(many=True, help_text="Most recently awarded first.")
    joined_at = serializers.DateTimeField(help_text="When the account was created.")
    thread_count = serializers.IntegerField(help_text="Threads of theirs that are not deleted.")


class ProfileThreadCategorySerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()


class ProfileThreadSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    summary = serializers.CharField()
    category = ProfileThreadCategorySerializer()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


ProfileThreadPageSerializer = page_serializer(
    ProfileThreadSerializer, "ProfileThreadPageSerializer"
)


class ProfileThreadsQuerySerializer(PageQuerySerializer):
    """`?limit=&cursor=` of a profile's thread list."""
