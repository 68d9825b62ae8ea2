"""Request serializers that refuse what they do not declare.

DRF ignores unknown keys by default; a typo'd field ("fullname") would then be silently
dropped. Every request serializer derives from StrictSerializer, so unknown fields are a 400
VALIDATION_FAILED naming each one.
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
