"""Request bodies of the internal listener."""

from __future__ import annotations

from rest_framework import serializers

from alephdraad_core.platform.serializers import StrictSerializer, TextField

MAX_LOOKUP_IDS = 100
_MAX_BIGINT = 2**63 - 1


def _ids() -> serializers.ListField:
    return serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=_MAX_BIGINT),
        required=False,
        max_length=MAX_LOOKUP_IDS,
    )


class LookupRequestSerializer(StrictSerializer):
    user_ids = _ids()
    usernames = serializers.ListField(
        child=TextField(max_length=64, allow_blank=False),
        required=False,
        max_length=MAX_LOOKUP_IDS,
    )
    thread_ids = _ids()
