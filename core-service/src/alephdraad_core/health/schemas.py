"""Response shapes of the probes (used for the OpenAPI document)."""

from __future__ import annotations

from rest_framework import serializers


class LivenessSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok"])
    service = serializers.CharField()
    version = serializers.CharField()


class ReadinessChecksSerializer(serializers.Serializer):
    database = serializers.ChoiceField(choices=["ok"])


class OutboxBacklogSerializer(serializers.Serializer):
    pending = serializers.IntegerField(
        min_value=0, help_text="Events not yet acknowledged by the feature service."
    )
    dead = serializers.IntegerField(
        min_value=0,
        help_text="Events the feature service refused for good (`manage.py outbox retry`).",
    )
    oldest_pending_seconds = serializers.FloatField(
        allow_null=True,
        min_value=0,
        help_text="Age of the oldest pending event in seconds; null when none is pending.",
    )


class ReadinessSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ready"])
    checks = ReadinessChecksSerializer()
    outbox = OutboxBacklogSerializer(
        allow_null=True,
        help_text=(
            "The event outbox's backlog, for dashboards and alerts; it never makes the "
            "service unready. Null when it could not be read."
        ),
    )
