"""Request and response shapes of the authentication and session endpoints."""

from __future__ import annotations

from rest_framework import serializers

from alephdraad_core.platform.serializers import StrictBooleanField, StrictSerializer, TextField

# settings.AUTH_PASSWORD_VALIDATORS: the serializers enforce the maximum. A longer password
# cannot exist, so refusing it before hashing costs nothing and caps the work per request.
PASSWORD_MAX_LENGTH = 128
# An email address (RFC 5321 path limit) is the longest thing a login can be.
LOGIN_MAX_LENGTH = 254
DEVICE_FINGERPRINT_MAX_LENGTH = 512
# Refresh tokens are 43 characters; the slack tolerates a future longer format.
REFRESH_TOKEN_MAX_LENGTH = 128


# Requests


class LoginRequestSerializer(StrictSerializer):
    login = TextField(
        max_length=LOGIN_MAX_LENGTH, help_text="The account's email address or its username."
    )
    # Never trimmed: a password is compared exactly as typed.
    password = TextField(max_length=PASSWORD_MAX_LENGTH, trim_whitespace=False)
    device_fingerprint = TextField(
        max_length=DEVICE_FINGERPRINT_MAX_LENGTH,
        required=False,
        allow_null=True,
        help_text="An opaque identifier of the client device; only its keyed hash is stored.",
    )


class RefreshRequestSerializer(StrictSerializer):
    refresh_token = TextField(max_length=REFRESH_TOKEN_MAX_LENGTH)


class LogoutRequestSerializer(StrictSerializer):
    refresh_token = TextField(
        max_length=REFRESH_TOKEN_MAX_LENGTH,
        required=False,
        help_text="Ends the session this refresh token belongs to, if it is one of the "
        "caller's; otherwise the session of the access token ends.",
    )


class LogoutAllRequestSerializer(StrictSerializer):
    keep_current = StrictBooleanField(
        required=False,
        default=False,
        help_text="Keep the session of the access token making this call.",
    )


# Responses


class TokenPairSerializer(serializers.Serializer):
    access_token = serializers.CharField(help_text="EdDSA-signed JWT, valid for expires_in s.")
    refresh_token = serializers.CharField(
        help_text="Opaque; single use. Send it to /auth/refresh for the next pair."
    )
    token_type = serializers.ChoiceField(choices=["Bearer"])
    expires_in = serializers.IntegerField(help_text="Lifetime of the access token in seconds.")


class LoginUserSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    username = serializers.CharField()
    full_name = serializers.CharField(allow_blank=True)
    avatar_url = serializers.URLField(allow_null=True)
    is_verified = serializers.BooleanField()
    totp_enabled = serializers.BooleanField()


class LoginResponseSerializer(TokenPairSerializer):
    user = LoginUserSerializer()


class MfaChallengeSerializer(serializers.Serializer):
    """The password was right and the account has 2FA on: no tokens yet. Send the code to
    POST /auth/login/totp or /auth/login/backup-code with `mfa_token`."""

    mfa_required = serializers.BooleanField(help_text="Always true.")
    mfa_token = serializers.CharField(
        help_text="Opaque, single use, valid for expires_in seconds (5 minutes)."
    )
    methods = serializers.ListField(
        child=serializers.ChoiceField(choices=["totp", "backup_code"]),
        help_text='Ways to finish: "totp" always, "backup_code" while unused codes remain.',
    )
    expires_in = serializers.IntegerField(help_text="Lifetime of mfa_token in seconds.")


class SessionSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    device_fingerprint_set = serializers.BooleanField(
        help_text="Whether the client sent a device fingerprint at login."
    )
    ip_address = serializers.IPAddressField(allow_null=True)
    user_agent = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    last_active_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    current = serializers.BooleanField(help_text="The session of the access token in use.")


class SessionListSerializer(serializers.Serializer):
    items = SessionSerializer(many=True)
    next_cursor = serializers.CharField(
        allow_null=True, help_text="Always null: a user has at most 10 live sessions."
    )


class LogoutAllResponseSerializer(serializers.Serializer):
    revoked = serializers.IntegerField(help_text="How many sessions were ended.")


class JwkSerializer(serializers.Serializer):
    kty = serializers.CharField()
    crv = serializers.CharField()
    x = serializers.CharField()
    kid = serializers.CharField()
    use = serializers.CharField()
    alg = serializers.CharField()


class JwksSerializer(serializers.Serializer):
    keys = JwkSerializer(many=True)
