"""Reads of passkeys. Views reach a passkey only through `access_passkey`."""

from __future__ import annotations

from alephdraad_core.accounts.models import User
from alephdraad_core.passkeys.errors import PasskeyNotFound
from alephdraad_core.passkeys.models import Credential, WebAuthnUserHandle

# Ids above this are not ours (bigint), and int() of a long digit string costs time.
_PASSKEY_ID_MAX_DIGITS = 19


def access_passkey(user: User, passkey_id: str) -> Credential:
    """One of the user's own passkeys; anyone else's, unknown or malformed -> 404."""
    if (
        not (passkey_id.isascii() and passkey_id.isdigit())
        or len(passkey_id) > _PASSKEY_ID_MAX_DIGITS
    ):
        raise PasskeyNotFound()
    credential = Credential.objects.filter(pk=int(passkey_id), user=user).first()
    if credential is None:
        raise PasskeyNotFound()
    return credential


def passkeys_of(user: User) -> list[Credential]:
    """The user's passkeys, oldest first (at most MAX_PASSKEYS_PER_USER): one query."""
    return list(Credential.objects.filter(user=user).order_by("created_at", "id"))


def passkey_count(user_id: int) -> int:
    return Credential.objects.filter(user_id=user_id).count()


def credential_by_id(credential_id: bytes, *, user_id: int | None = None) -> Credential | None:
    """The passkey an authenticator names by its credential id (raw bytes), optionally only
    if it is this user's."""
    credentials = Credential.objects.filter(credential_id=credential_id)
    if user_id is not None:
        credentials = credentials.filter(user_id=user_id)
    return credentials.first()


def user_handle_of(user_id: int) -> bytes | None:
    handle = (
        WebAuthnUserHandle.objects.filter(user_id=user_id).values_list("handle", flat=True).first()
    )
    return bytes(handle) if handle is not None else None
