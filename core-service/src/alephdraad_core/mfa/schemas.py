"""Request and response shapes of TOTP, backup codes and the second login step.

Code fields refuse anything that cannot be a code (wrong length, letters in a TOTP code, a
confusable character in a backup code) with 400 VALIDATION_FAILED before anything is
verified, so malformed input never counts as a wrong code.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from alephdraad_core.authn.schemas import PASSWORD_MAX_LENGTH
from alephdraad_core.mfa.codes import (
    BACKUP_CODE_ALPHABET,
    SecondFactorCode,
    normalize_backup_code,
    normalize_totp_code,
    parse_second_factor_code,
)
from alephdraad_core.platform.serializers import StrictSerializer, TextField

# Longer than any code with separators and stray spaces; anything longer is refused unread.
CODE_MAX_LENGTH = 32
# Login tokens are 43 characters.
MFA_TOKEN_MAX_LENGTH = 128

_TOTP_HELP = "The 6-digit code the authenticator app shows now (spaces allowed)."
_BACKUP_HELP = (
    f"An unused backup code: 8 characters of {BACKUP_CODE_ALPHABET}, with or without the dash, "
    "any case."
)


class TotpCodeField(TextField):
    """Six digits; yields them as a string without separators."""

    default_error_messages = {"code": "An authentication code is 6 digits."}  # noqa: RUF012

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", CODE_MAX_LENGTH)
        kwargs.setdefault("help_text", _TOTP_HELP)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        code = normalize_totp_code(super().to_internal_value(data))
        if code is None:
            self.fail("code")
        return code


class BackupCodeField(TextField):
    """A backup code; yields its 8 characters upper-cased, without the dash."""

    default_error_messages = {  # noqa: RUF012
        "code": "A backup code is 8 characters like 7KQM-2XPA, without 0, 1, I, L or O."
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", CODE_MAX_LENGTH)
        kwargs.setdefault("help_text", _BACKUP_HELP)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        code = normalize_backup_code(super().to_internal_value(data))
        if code is None:
            self.fail("code")
        return code


class SecondFactorCodeField(TextField):
    """A TOTP code or a backup code, told apart by shape; yields a SecondFactorCode."""

    default_error_messages = {  # noqa: RUF012
        "code": "Send the 6-digit code of your authenticator app or a backup code (e.g. 7KQM-2XPA)."
    }

    def __init__(self, **kwargs: Any) -> None:
        # No max_length: DRF would apply it to the SecondFactorCode this field yields; the
        # length is checked in to_internal_value instead.
        kwargs.setdefault(
            "help_text", "A 6-digit code from the authenticator app, or an unused backup code."
        )
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> SecondFactorCode:  # type: ignore[override]
        raw = super().to_internal_value(data)
        code = parse_second_factor_code(raw) if len(raw) <= CODE_MAX_LENGTH else None
        if code is None:
            self.fail("code")
        return code


# Requests


class TotpEnableRequestSerializer(StrictSerializer):
    code = TotpCodeField()


class TotpDisableRequestSerializer(StrictSerializer):
    password = TextField(max_length=PASSWORD_MAX_LENGTH, trim_whitespace=False)
    code = SecondFactorCodeField()


class MfaLoginTotpRequestSerializer(StrictSerializer):
    mfa_token = TextField(
        max_length=MFA_TOKEN_MAX_LENGTH, help_text="The mfa_token of POST /auth/login."
    )
    code = TotpCodeField()


class MfaLoginBackupCodeRequestSerializer(StrictSerializer):
    mfa_token = TextField(
        max_length=MFA_TOKEN_MAX_LENGTH, help_text="The mfa_token of POST /auth/login."
    )
    code = BackupCodeField()


class EmptyRequestSerializer(StrictSerializer):
    """Endpoints without a body still refuse fields they do not know."""


# Responses


class TotpSetupSerializer(serializers.Serializer):
    secret = serializers.CharField(help_text="The shared secret, base32, to type into an app.")
    otpauth_uri = serializers.CharField(
        help_text="otpauth://totp/… (SHA1, 6 digits, 30 s), what the QR code holds."
    )
    qr_svg = serializers.CharField(help_text="The QR code as an SVG data: URI.")
    issuer = serializers.CharField()


class BackupCodeListSerializer(serializers.Serializer):
    backup_codes = serializers.ListField(
        child=serializers.CharField(),
        help_text="10 single-use codes like 7KQM-2XPA. Shown only this once; store them safely.",
    )


class TotpEnabledSerializer(BackupCodeListSerializer):
    enabled = serializers.BooleanField()


class TotpStatusSerializer(serializers.Serializer):
    enabled = serializers.BooleanField()
    pending_setup = serializers.BooleanField(
        help_text="A device from /auth/totp/setup awaits /auth/totp/enable."
    )
    created_at = serializers.DateTimeField(
        allow_null=True, help_text="When the authenticator in use was set up; null when off."
    )
    last_used_at = serializers.DateTimeField(allow_null=True)
    backup_codes_remaining = serializers.IntegerField()


class BackupCodesStatusSerializer(serializers.Serializer):
    remaining = serializers.IntegerField(help_text="Unused backup codes; 0 when 2FA is off.")
