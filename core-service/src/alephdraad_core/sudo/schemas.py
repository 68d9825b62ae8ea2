"""Request and response shapes of sudo mode, and the X-Sudo-Token header for OpenAPI."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from alephdraad_core.authn.schemas import PASSWORD_MAX_LENGTH
from alephdraad_core.mfa.schemas import SecondFactorCodeField
from alephdraad_core.platform.serializers import StrictSerializer, TextField
from alephdraad_core.sudo.services import SUDO_HEADER

SUDO_METHODS = ("pwd", "pwd+otp", "pwd+backup", "hwk")

# For `extend_schema(parameters=[…])` of every view with `HasSudo`.
SUDO_TOKEN_PARAMETER = OpenApiParameter(
    SUDO_HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=True,
    description="The sudo_token of POST /auth/sudo, for the same session; 15 minutes.",
)


class SudoRequestSerializer(StrictSerializer):
    # Never trimmed: a password is compared exactly as typed.
    password = TextField(max_length=PASSWORD_MAX_LENGTH, trim_whitespace=False)
    code = SecondFactorCodeField(
        required=False,
        help_text="Required when two-factor authentication is on: a 6-digit code from the "
        "authenticator app or an unused backup code (e.g. 7KQM-2XPA).",
    )


class SudoGrantSerializer(serializers.Serializer):
    sudo_token = serializers.CharField(
        help_text="Send as X-Sudo-Token with this session's access token."
    )
    expires_at = serializers.DateTimeField()


class SudoStatusSerializer(serializers.Serializer):
    active = serializers.BooleanField(help_text="Whether this session is in sudo mode.")
    expires_at = serializers.DateTimeField(allow_null=True)
    method = serializers.ChoiceField(
        choices=SUDO_METHODS,
        allow_null=True,
        help_text="How presence was proven: password, with a TOTP or backup code, or a passkey.",
    )
