"""Request and response shapes of badges. Request serializers refuse unknown fields.

The response shapes here are public (anonymous callers see them): they name nothing about
holders but their number.
"""

from __future__ import annotations

from typing import Any

from django.core.validators import RegexValidator, URLValidator
from rest_framework import serializers

from alephdraad_core.badges.models import Badge
from alephdraad_core.platform.serializers import StrictSerializer, TextField

NAME_MAX_LENGTH = 100
DESCRIPTION_MAX_LENGTH = 1000
ICON_URL_MAX_LENGTH = 2048
REASON_MAX_LENGTH = 500
# Ids are bigint; a larger number cannot name a row.
ID_MAX_VALUE = 2**63 - 1


class StrictIntegerField(serializers.IntegerField):
    """Only JSON integers: DRF's would also take "7" and 7.0 (and True, which is an int)."""

    default_error_messages = {"not_an_integer": "Must be an integer."}  # noqa: RUF012 - DRF's API

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("not_an_integer")
        return int(super().to_internal_value(data))


class StrictChoiceField(serializers.ChoiceField):
    """A choice given as a JSON string; another type is a wrong shape (400), an unknown string
    a broken rule (invalid_choice, 422)."""

    default_error_messages = {"not_a_string": "Must be a string."}  # noqa: RUF012 - DRF's API

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)


def _badge_id_field(**kwargs: Any) -> StrictIntegerField:
    return StrictIntegerField(min_value=1, max_value=ID_MAX_VALUE, **kwargs)


def _reason_field() -> TextField:
    return TextField(
        min_length=1,
        max_length=REASON_MAX_LENGTH,
        help_text="Why; kept in the audit log (security events).",
    )


# Requests


class BadgeCreateSerializer(StrictSerializer):
    name = TextField(
        min_length=1, max_length=NAME_MAX_LENGTH, help_text="Unique (exact match); trimmed."
    )
    description = TextField(
        max_length=DESCRIPTION_MAX_LENGTH, required=False, allow_blank=True, default=""
    )
    icon_url = TextField(
        max_length=ICON_URL_MAX_LENGTH,
        required=False,
        allow_blank=True,
        default="",
        # https only, as avatars: anything else would be mixed content or a script URL.
        validators=[URLValidator(schemes=["https"], message="Enter a valid https:// URL.")],
        help_text='An https:// URL, or "" for none.',
    )
    color = TextField(
        max_length=7,
        required=False,
        allow_blank=True,
        default="",
        validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", message="A colour is #RRGGBB.")],
        help_text='"#RRGGBB", or "" for the default.',
    )
    rarity = StrictChoiceField(
        choices=Badge.Rarity.choices, required=False, default=Badge.Rarity.COMMON
    )


class BadgeUpdateSerializer(BadgeCreateSerializer):
    """Any subset of the fields of BadgeCreateSerializer; absent ones keep their value."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("partial", True)
        super().__init__(*args, **kwargs)


class BadgeAwardSerializer(StrictSerializer):
    badge_id = _badge_id_field()
    reason = _reason_field()


class BadgeRevokeSerializer(StrictSerializer):
    reason = _reason_field()


class PrimaryBadgeSerializer(StrictSerializer):
    badge_id = _badge_id_field(
        allow_null=True, help_text="A badge you hold, or null for no primary badge."
    )


# Responses


class BadgeSerializer(serializers.Serializer):
    """A badge of the catalogue with the number of users holding it (public)."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField()
    icon_url = serializers.CharField(help_text='"" when the badge has no icon.')
    color = serializers.CharField(help_text='"#RRGGBB", or "" for the default.')
    rarity = serializers.ChoiceField(choices=Badge.Rarity.choices)
    holder_count = serializers.IntegerField(help_text="How many users hold the badge.")
    created_at = serializers.DateTimeField()


class BadgeListSerializer(serializers.Serializer):
    items = BadgeSerializer(many=True, help_text="Every badge, oldest first.")


class BadgeSummarySerializer(serializers.Serializer):
    """How a badge appears next to a user: enough to draw it."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    icon_url = serializers.CharField()
    color = serializers.CharField()
    rarity = serializers.ChoiceField(choices=Badge.Rarity.choices)


class PrimaryBadgeResultSerializer(serializers.Serializer):
    primary_badge = BadgeSummarySerializer(
        allow_null=True, help_text="The primary badge now; null when there is none."
    )


class UserBadgeSerializer(serializers.Serializer):
    """An award, as the admin who made it sees it."""

    user_id = serializers.IntegerField()
    badge = BadgeSummarySerializer()
    is_primary = serializers.BooleanField()
    awarded_at = serializers.DateTimeField()
    awarded_by = serializers.IntegerField(
        source="awarded_by_id", allow_null=True, help_text="Id of the admin who awarded it."
    )
    reason = serializers.CharField()
