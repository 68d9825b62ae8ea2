"""Request bodies of the internal listener."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime
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


# --- moderation commands ------------------------------------------------------------------------

REASON_MAX_LENGTH = 500
# A service actor names the automated moderator it acts for ("auto-moderation"): a short,
# log-safe token, since it lands in the audit log and in events.
SERVICE_ACTOR_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._:-]{0,63}$")
ACTOR_KINDS = ("admin", "service")


class ActorSerializer(StrictSerializer):
    """`{kind: "admin", id: <admins.id>}` or `{kind: "service", id: "<name>"}`."""

    kind = serializers.ChoiceField(choices=ACTOR_KINDS)
    id = serializers.JSONField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        actor_id = attrs["id"]
        if attrs["kind"] == "admin":
            # bool is an int in Python, never an id in JSON.
            if not isinstance(actor_id, int) or isinstance(actor_id, bool):
                raise serializers.ValidationError(
                    {"id": "An admin is named by its integer id."}, code="invalid"
                )
            if not 1 <= actor_id <= _MAX_BIGINT:
                raise serializers.ValidationError({"id": "Not an admin id."}, code="rule")
        else:
            if not isinstance(actor_id, str):
                raise serializers.ValidationError(
                    {"id": "A service actor is named by a string."}, code="invalid"
                )
            if not SERVICE_ACTOR_PATTERN.fullmatch(actor_id):
                raise serializers.ValidationError(
                    {"id": "1 to 64 characters: a-z, 0-9 and . _ : - (not first)."},
                    code="rule",
                )
        return attrs


def _reason() -> TextField:
    return TextField(min_length=1, max_length=REASON_MAX_LENGTH)


class ThreadDeleteCommandSerializer(StrictSerializer):
    reason = _reason()
    actor = ActorSerializer()


class Rfc3339DateTimeField(serializers.DateTimeField):
    """A JSON string in RFC 3339 form: an offset (or Z) is required, since a moment without
    one means different things on the two services."""

    def to_internal_value(self, value: Any) -> datetime:
        parsed = None
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value)
            except ValueError:  # well-formed but impossible, e.g. month 13
                parsed = None
        if parsed is None:
            self.fail("invalid", format="RFC 3339 (e.g. 2030-01-31T12:00:00Z)")
        if parsed.tzinfo is None:
            self.fail("invalid", format="RFC 3339 with an offset or Z")
        result: datetime = super().to_internal_value(value)
        return result


class UserLockCommandSerializer(StrictSerializer):
    reason = _reason()
    # Required, though it may be null: a command that forgot it must not lock for ever.
    until = Rfc3339DateTimeField(
        allow_null=True, help_text="RFC 3339 moment in the future; null: until unlocked."
    )
    actor = ActorSerializer()

    def validate_until(self, value: datetime | None) -> datetime | None:
        if value is not None and value <= timezone.now():
            raise serializers.ValidationError("Must be in the future.", code="rule")
        return value
