"""Passkeys (seed table `credentials`), the WebAuthn user handle of each user, and the
challenges of ceremonies in flight.

Credential ids are stored as the raw bytes the authenticator chose (bytea, unique): that is
what an assertion's `rawId` decodes to, so a lookup is one index probe with no re-encoding.
"""

from __future__ import annotations

import uuid
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models.functions import Length
from django.db.models.lookups import GreaterThanOrEqual, LessThanOrEqual
from django.utils import timezone

from alephdraad_core.authn.models import Session

# WebAuthn Level 3, section 5.1: a credential id is at most 1023 bytes.
CREDENTIAL_ID_MAX_BYTES = 1023
NAME_MAX_LENGTH = 64
ZERO_AAGUID = uuid.UUID(int=0)


class WebAuthnUserHandle(models.Model):
    """The user's WebAuthn `user.id`: 64 random bytes, never the database id (WebAuthn
    section 14.6.1: a user handle must not identify the user to anyone but us).

    Created at the first registration ceremony and reused for every later passkey, so one
    authenticator keeps one resident credential per account (it replaces, not duplicates).
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="webauthn_user_handle",
    )
    handle = models.BinaryField(unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "webauthn_user_handles"

    def __str__(self) -> str:
        return f"WebAuthn user handle of user {self.user_id}"


class Credential(models.Model):
    """One passkey of a user: the public key and what we last heard from its authenticator."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="passkeys"
    )
    credential_id = models.BinaryField(unique=True)
    # The COSE_Key from the attested credential data, as the authenticator encoded it.
    public_key = models.BinaryField()
    # The attestation statement format ("none": we ask for no attestation).
    attestation_type = models.CharField(max_length=32)
    name = models.CharField(max_length=NAME_MAX_LENGTH)
    # The highest signature counter seen; stays 0 for authenticators that do not count
    # (synced passkeys). An unsigned 32-bit value on the wire.
    sign_count = models.PositiveBigIntegerField(default=0)
    # Hints the browser reported at registration ("internal", "hybrid", "usb"…), handed back in
    # allowCredentials/excludeCredentials so it can offer the right authenticator.
    transports = models.JSONField(default=list)
    aaguid = models.UUIDField(default=ZERO_AAGUID)
    # BE/BS flags: the credential may be synced (multi-device), and currently is backed up.
    backup_eligible = models.BooleanField(default=False)
    backup_state = models.BooleanField(default=False)
    # The user handle the credential was created for (WebAuthnUserHandle.handle); a
    # discoverable assertion must return exactly this.
    user_handle = models.BinaryField()
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "credentials"
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["user", "created_at"], name="idx_credentials_user_created"),
        ]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.CheckConstraint(
                condition=models.Q(
                    GreaterThanOrEqual(Length("credential_id"), 1),
                    LessThanOrEqual(Length("credential_id"), CREDENTIAL_ID_MAX_BYTES),
                ),
                name="credentials_credential_id_length",
            ),
        ]

    def __str__(self) -> str:
        return f"Passkey {self.pk} ({self.name}) of user {self.user_id}"


class WebAuthnChallenge(models.Model):
    """A ceremony in flight: the challenge we sent and what it may be used for.

    Kept in the database, not in process memory, so any replica can finish a ceremony another
    one began. Single use (`used_at` is set by a conditional UPDATE before the response is
    verified) and valid for CHALLENGE_LIFETIME. The row id is the `ceremony_id` clients send
    back.
    """

    class Purpose(models.TextChoices):
        REGISTER = "register"
        LOGIN = "login"
        SUDO = "sudo"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    challenge = models.BinaryField()
    # Register and sudo: the signed-in user. Login: the user the login named, if it named an
    # existing one; null for a discoverable login (and for a login naming nobody).
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # Register and sudo: the session that began the ceremony and alone may finish it.
    session = models.ForeignKey(
        Session, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # Login only: no login was named, so any user's discoverable credential may answer.
    discoverable = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "webauthn_challenges"
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["expires_at"], name="idx_webauthn_chal_expires"),
        ]

    def __str__(self) -> str:
        return f"WebAuthn {self.purpose} challenge {self.pk}"
