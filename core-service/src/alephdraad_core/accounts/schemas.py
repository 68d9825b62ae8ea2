"""Request and response shapes of accounts. Request serializers refuse unknown fields."""

from __future__ import annotations

from typing import Any

from django.core.validators import RegexValidator, URLValidator
from rest_framework import serializers

from alephdraad_core.accounts.models import User, normalize_email
from alephdraad_core.accounts.policy import (
    PASSWORD_MAX_LENGTH,
    PASSWORD_MIN_LENGTH,
    USERNAME_PATTERN,
    USERNAME_RULE,
    is_reserved_username,
    password_problems,
)
from alephdraad_core.platform.serializers import StrictSerializer, TextField

EMAIL_MAX_LENGTH = 254
FULL_NAME_MAX_LENGTH = 100
AVATAR_URL_MAX_LENGTH = 2048
# A token we mail is 43 characters; anything much longer is not one of ours.
TOKEN_MAX_LENGTH = 256
DEVICE_FINGERPRINT_MAX_LENGTH = 512


class EmailAddressField(TextField, serializers.EmailField):
    """An address as accounts store it: trimmed, lower-cased, at most 254 characters."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", EMAIL_MAX_LENGTH)
        super().__init__(**kwargs)

    default_error_messages = {  # noqa: RUF012 - DRF's API
        "control_character": "Enter a valid email address."
    }

    def to_internal_value(self, data: Any) -> str:
        address = normalize_email(super().to_internal_value(data))
        # Django's validator allows control characters inside a quoted local part; they have
        # no place in a mail header.
        if any(ord(char) < 0x20 or ord(char) == 0x7F for char in address):
            self.fail("control_character")
        return address


class PasswordField(TextField):
    """Taken exactly as typed (never trimmed: spaces are characters, ASVS V6.2.4/V6.2.9) and
    capped, so a megabyte body is a field error and is never hashed."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", PASSWORD_MAX_LENGTH)
        kwargs.setdefault("trim_whitespace", False)
        kwargs.setdefault("style", {"input_type": "password"})
        super().__init__(**kwargs)


def _new_password(help_text: str) -> PasswordField:
    return PasswordField(min_length=PASSWORD_MIN_LENGTH, help_text=help_text)


_NEW_PASSWORD_HELP = (
    f"{PASSWORD_MIN_LENGTH} to {PASSWORD_MAX_LENGTH} characters, any characters; no "
    "composition rules. Common passwords and ones close to the email, username or full name "
    "are refused."
)


def _username_field() -> TextField:
    """A new username, by the rules of registration (policy.py); pair it with
    `check_username_not_reserved` in the serializer's `validate_username`."""
    return TextField(
        max_length=30,
        validators=[RegexValidator(USERNAME_PATTERN, message=f"A username is {USERNAME_RULE}")],
        help_text=f"{USERNAME_RULE} Some names are reserved.",
    )


def check_username_not_reserved(value: str) -> str:
    if is_reserved_username(value):
        raise serializers.ValidationError("This username is reserved.", code="rule")
    return value


# Requests


class RegisterSerializer(StrictSerializer):
    email = EmailAddressField()
    password = _new_password(_NEW_PASSWORD_HELP)
    username = _username_field()
    full_name = TextField(max_length=FULL_NAME_MAX_LENGTH)
    # Accepted so clients can already send it; device bans use it in a later issue, until then
    # it is ignored (not stored, not hashed).
    device_fingerprint = TextField(
        max_length=DEVICE_FINGERPRINT_MAX_LENGTH,
        required=False,
        allow_blank=True,
        help_text="Opaque client fingerprint; currently ignored.",
    )

    def validate_username(self, value: str) -> str:
        return check_username_not_reserved(value)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # The account does not exist yet; an unsaved one carries what the similarity check
        # compares the password with.
        candidate = User(
            email=attrs["email"], username=attrs["username"], full_name=attrs["full_name"]
        )
        problems = password_problems(attrs["password"], candidate)
        if problems:
            raise serializers.ValidationError({"password": problems}, code="rule")
        return attrs


class VerifyEmailConfirmSerializer(StrictSerializer):
    token = TextField(max_length=TOKEN_MAX_LENGTH, help_text="The token from the link in the mail.")


class EmailAddressSerializer(StrictSerializer):
    email = EmailAddressField()


class PasswordResetSerializer(StrictSerializer):
    token = TextField(max_length=TOKEN_MAX_LENGTH, help_text="The token from the link in the mail.")
    new_password = _new_password(_NEW_PASSWORD_HELP)


class PasswordChangeSerializer(StrictSerializer):
    current_password = PasswordField()
    new_password = _new_password(_NEW_PASSWORD_HELP)


class ProfileUpdateSerializer(StrictSerializer):
    full_name = TextField(max_length=FULL_NAME_MAX_LENGTH, required=False)
    avatar_url = TextField(
        max_length=AVATAR_URL_MAX_LENGTH,
        required=False,
        allow_null=True,
        # https only: an http avatar would be mixed content, and javascript:/data: URLs are
        # never images we want rendered.
        validators=[URLValidator(schemes=["https"], message="Enter a valid https:// URL.")],
        help_text="An https:// URL, or null to remove the avatar.",
    )


class UsernameChangeSerializer(StrictSerializer):
    username = _username_field()

    def validate_username(self, value: str) -> str:
        return check_username_not_reserved(value)


ACCOUNT_DELETE_CONFIRMATION = "DELETE"


class AccountDeleteSerializer(StrictSerializer):
    # Taken exactly as typed (not trimmed, case-sensitive): the point is a deliberate act.
    confirmation = TextField(
        trim_whitespace=False,
        max_length=16,
        help_text=f'Exactly "{ACCOUNT_DELETE_CONFIRMATION}".',
    )

    def validate_confirmation(self, value: str) -> str:
        if value != ACCOUNT_DELETE_CONFIRMATION:
            raise serializers.ValidationError(
                f'Type "{ACCOUNT_DELETE_CONFIRMATION}" to confirm.', code="rule"
            )
        return value


# Responses


class AccountMessageSerializer(serializers.Serializer):
    message = serializers.CharField()


class VerificationStatusSerializer(serializers.Serializer):
    required = serializers.BooleanField()


class RegisterResponseSerializer(serializers.Serializer):
    message = serializers.CharField()
    verification = VerificationStatusSerializer()


class EmailVerifiedSerializer(serializers.Serializer):
    message = serializers.CharField()
    verified = serializers.BooleanField()


class AccountSerializer(serializers.ModelSerializer):
    """The signed-in user's own account. Timestamps are ISO 8601 in UTC with a Z suffix (DRF
    renders aware datetimes in TIME_ZONE, which is UTC, and writes +00:00 as Z)."""

    class Meta:
        model = User
        fields = (
            "id",
            "email",
            "username",
            "full_name",
            "avatar_url",
            "is_verified",
            "totp_enabled",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields
