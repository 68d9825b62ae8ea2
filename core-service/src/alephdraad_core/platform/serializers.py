"""Request serializers and fields that refuse what they do not declare.

DRF ignores unknown keys by default; a typo'd field ("fullname") would then be silently
dropped. Every request serializer derives from StrictSerializer, so unknown fields are a 400
VALIDATION_FAILED naming each one. DRF's fields also coerce types (42 -> "42", "yes" -> True);
a wrong JSON type is a client bug, so TextField and StrictBooleanField refuse it.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


class StrictSerializer(serializers.Serializer):
    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


class TextField(serializers.CharField):
    """A CharField that takes JSON strings only: DRF's would turn 42 into "42"."""

    default_error_messages = {"not_a_string": "Must be a string."}  # noqa: RUF012 - DRF's API

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("not_a_string")
        return str(super().to_internal_value(data))


class StrictBooleanField(serializers.BooleanField):
    """Only JSON true/false; DRF would also take "yes", "0", 1…"""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


def validated(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    """Validate `data` (a request body or query dict) with the serializer; its validated data,
    or the ValidationError the exception handler answers as 400/422 problem+json."""
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)
