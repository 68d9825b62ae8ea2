"""Request and response shapes of the passkey endpoints.

`options` and `credential` are the W3C JSON forms (PublicKeyCredentialCreationOptionsJSON /
RequestOptionsJSON out; RegistrationResponseJSON / AuthenticationResponseJSON in, e.g. from
`PublicKeyCredential.toJSON()` or @simplewebauthn/browser); binary members are base64url.
They are objects here; py_webauthn checks their inside.
"""

from __future__ import annotations

import unicodedata
import uuid
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from alephdraad_core.authn.schemas import DEVICE_FINGERPRINT_MAX_LENGTH, LOGIN_MAX_LENGTH
from alephdraad_core.passkeys.models import NAME_MAX_LENGTH
from alephdraad_core.platform.serializers import StrictSerializer, TextField

_UUID_TEXT_LENGTH = 36
_CEREMONY_ID_HELP = "The ceremony_id the begin call returned."
_CREDENTIAL_HELP = "What navigator.credentials.{} returned, as its toJSON() gives it."


@extend_schema_field(OpenApiTypes.UUID)
class CeremonyIdField(TextField):
    default_error_messages = {"not_a_ceremony": "Not a ceremony id."}  # noqa: RUF012 - DRF's API

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", _CEREMONY_ID_HELP)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> uuid.UUID:  # type: ignore[override]
        text = super().to_internal_value(data)
        # The canonical 36-character form only (no braces, no "urn:uuid:").
        if len(text) == _UUID_TEXT_LENGTH:
            try:
                return uuid.UUID(text)
            except ValueError:
                pass
        self.fail("not_a_ceremony")


class PasskeyNameField(TextField):
    """1 to 64 characters, trimmed, without control characters (it is quoted in mails)."""

    default_error_messages = {  # noqa: RUF012 - DRF's API
        "control_character": "Must not contain control characters."
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_length", 1)
        kwargs.setdefault("max_length", NAME_MAX_LENGTH)
        kwargs.setdefault("help_text", 'A name to tell passkeys apart ("Laptop", "Phone").')
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        name = super().to_internal_value(data)
        if any(unicodedata.category(character) == "Cc" for character in name):
            self.fail("control_character")
        return name


class CredentialField(serializers.DictField):
    """A JSON object; anything else (a string, a list) is a VALIDATION_FAILED."""


# Requests


class PasskeyRegisterFinishRequestSerializer(StrictSerializer):
    ceremony_id = CeremonyIdField()
    name = PasskeyNameField()
    credential = CredentialField(help_text=_CREDENTIAL_HELP.format("create()"))


class PasskeyLoginBeginRequestSerializer(StrictSerializer):
    login = TextField(
        max_length=LOGIN_MAX_LENGTH,
        required=False,
        allow_null=True,
        help_text="Email address or username. Leave it out for a username-less login.",
    )


class PasskeyLoginFinishRequestSerializer(StrictSerializer):
    ceremony_id = CeremonyIdField()
    credential = CredentialField(help_text=_CREDENTIAL_HELP.format("get()"))
    device_fingerprint = TextField(
        max_length=DEVICE_FINGERPRINT_MAX_LENGTH,
        required=False,
        allow_null=True,
        help_text="As for password login: an opaque device identifier, stored only hashed.",
    )


class PasskeyAssertionRequestSerializer(StrictSerializer):
    ceremony_id = CeremonyIdField()
    credential = CredentialField(help_text=_CREDENTIAL_HELP.format("get()"))


class PasskeyRenameRequestSerializer(StrictSerializer):
    name = PasskeyNameField()


# Responses


class PasskeyCeremonySerializer(serializers.Serializer):
    ceremony_id = serializers.UUIDField(
        help_text="Send it back with the finish call; valid once, for 5 minutes."
    )
    options = serializers.DictField(
        help_text="The standard PublicKeyCredentialCreationOptionsJSON (register) or "
        "PublicKeyCredentialRequestOptionsJSON (login, sudo), for "
        "PublicKeyCredential.parseCreationOptionsFromJSON / parseRequestOptionsFromJSON."
    )


class PasskeySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    backup_eligible = serializers.BooleanField(
        help_text="The passkey can be synced between devices (a multi-device credential)."
    )
    backup_state = serializers.BooleanField(help_text="It was backed up at its last use.")
    transports = serializers.ListField(
        child=serializers.CharField(),
        help_text='How the browser reached the authenticator ("internal", "hybrid", "usb"…).',
    )


class PasskeyListSerializer(serializers.Serializer):
    items = PasskeySerializer(many=True)
    next_cursor = serializers.CharField(
        allow_null=True, help_text="Always null: an account has at most 20 passkeys."
    )
