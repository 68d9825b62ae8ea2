"""Response shapes of the probes (used for the OpenAPI document)."""

from __future__ import annotations

from rest_framework import serializers


class LivenessSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok"])
    service = serializers.CharField()
    version = serializers.CharField()


class ReadinessChecksSerializer(serializers.Serializer):
    database = serializers.ChoiceField(choices=["ok"])


class ReadinessSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ready"])
    checks = ReadinessChecksSerializer()
