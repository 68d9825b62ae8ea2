"""WebAuthn ceremonies (register, log in, sudo) and changes to a user's passkeys.

Every ceremony is two calls. *Begin* stores a random challenge (py_webauthn's 64 bytes) as a
`WebAuthnChallenge` row and returns its id as `ceremony_id` with the standard options JSON.
*Finish* first claims that row with one conditional UPDATE (`used_at IS NULL`, not expired,
right purpose, and for register/sudo the same session), which commits at once: a challenge is
used up even when the response then fails to verify, and two concurrent finishes cannot both
pass. Only then is the response verified and anything written.

Policy:
- User verification is *required* in every ceremony: a passkey login stands in for password
  plus second factor (`amr` ["hwk"], TOTP skipped), which only holds when the authenticator
  verified the user (PIN or biometrics), not merely saw a touch.
- Resident (discoverable) keys are required, so a login can be username-less.
- Attestation "none": we trust no authenticator vendor list, so we do not ask for one.
- Sign counters: a counter that does not increase (when either side is non-zero) is recorded
  as "passkey_sign_count_regression" and the assertion is still accepted; the stored counter
  only ever grows (WebAuthn section 7.2 step 21). Authenticators that always send 0 (synced
  passkeys) never trip it.

Lock order: user row, then credential row (as authn: user row first).
"""

from __future__ import annotations

import json
import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import salted_hmac
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.authentication.verify_authentication_response import VerifiedAuthentication
from webauthn.helpers import (
    parse_authentication_credential_json,
    parse_registration_credential_json,
)
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AttestationFormat,
    AuthenticationCredential,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    CredentialDeviceType,
    PublicKeyCredentialCreationOptions,
    PublicKeyCredentialDescriptor,
    PublicKeyCredentialRequestOptions,
    RegistrationCredential,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from alephdraad_core.accounts.models import User
from alephdraad_core.authn.errors import iso_z
from alephdraad_core.authn.models import Session
from alephdraad_core.authn.selectors import user_for_login
from alephdraad_core.authn.services import LoginResult, do_open_session
from alephdraad_core.mail.services import enqueue_mail
from alephdraad_core.passkeys import mails
from alephdraad_core.passkeys.errors import (
    ChallengeInvalid,
    NoPasskeys,
    PasskeyAlreadyRegistered,
    PasskeyLimitReached,
    PasskeyNotFound,
    PasskeyVerificationFailed,
)
from alephdraad_core.passkeys.models import (
    CREDENTIAL_ID_MAX_BYTES,
    Credential,
    WebAuthnChallenge,
    WebAuthnUserHandle,
)
from alephdraad_core.passkeys.selectors import (
    credential_by_id,
    passkey_count,
    passkeys_of,
    user_handle_of,
)
from alephdraad_core.platform.http import client_ip, user_agent
from alephdraad_core.security.services import record_security_event
from alephdraad_core.sudo.services import IssuedSudo, do_grant_sudo

logger = logging.getLogger(__name__)

CHALLENGE_LIFETIME = timedelta(minutes=5)
# The browser's timeout hint: as long as the challenge lives.
CEREMONY_TIMEOUT_MS = int(CHALLENGE_LIFETIME.total_seconds() * 1000)
MAX_PASSKEYS_PER_USER = 20
USER_HANDLE_BYTES = 64
# Used or expired challenges are useless; the worker's housekeeping may delete them after this.
CHALLENGE_RETENTION = timedelta(hours=1)

EVENT_PASSKEY_ADDED = "passkey_added"
EVENT_PASSKEY_REMOVED = "passkey_removed"
EVENT_PASSKEY_RENAMED = "passkey_renamed"
EVENT_PASSKEY_LOGIN = "passkey_login"
EVENT_PASSKEY_LOGIN_FAILED = "passkey_login_failed"
EVENT_PASSKEY_REGISTRATION_FAILED = "passkey_registration_failed"
EVENT_PASSKEY_SUDO_FAILED = "passkey_sudo_failed"
EVENT_SIGN_COUNT_REGRESSION = "passkey_sign_count_regression"

AMR_PASSKEY = "hwk"
SUDO_METHOD_PASSKEY = "hwk"

_REFUSED = "The passkey response could not be verified."
_DECOY_SALT = "alephdraad.passkeys.decoy-credentials"
# Shapes real credentials come in (id length in bytes, reported transports); decoys take one.
_DECOY_ID_LENGTHS = (16, 20, 32, 64)
_DECOY_TRANSPORTS = (
    (AuthenticatorTransport.HYBRID, AuthenticatorTransport.INTERNAL),
    (AuthenticatorTransport.INTERNAL,),
    (AuthenticatorTransport.USB,),
    (AuthenticatorTransport.NFC, AuthenticatorTransport.USB),
)
# Bound on the verifier's reason kept in the audit log (it may quote client input).
_REASON_MAX = 200


@dataclass(frozen=True)
class Ceremony:
    """What a begin call answers: the handle to finish with and the options for the browser."""

    ceremony_id: uuid.UUID
    options: dict[str, Any]


@dataclass(frozen=True)
class _Use:
    credential: Credential
    stored_sign_count: int
    received_sign_count: int

    @property
    def regressed(self) -> bool:
        received, stored = self.received_sign_count, self.stored_sign_count
        return (received != 0 or stored != 0) and received <= stored


# Relying party and options


def _rp_id() -> str:
    return str(settings.WEBAUTHN_RP_ID)


def _origins() -> list[str]:
    return list(settings.WEBAUTHN_ORIGINS)


def _options_json(
    options: PublicKeyCredentialCreationOptions | PublicKeyCredentialRequestOptions,
) -> dict[str, Any]:
    """The standard PublicKeyCredential*OptionsJSON (binary members base64url)."""
    document: dict[str, Any] = json.loads(options_to_json(options))
    return document


def _descriptor(credential: Credential) -> PublicKeyCredentialDescriptor:
    transports = []
    for value in credential.transports:
        try:
            transports.append(AuthenticatorTransport(value))
        except ValueError:
            continue
    return PublicKeyCredentialDescriptor(
        id=bytes(credential.credential_id), transports=transports or None
    )


def _decoy_descriptors(login: str) -> list[PublicKeyCredentialDescriptor]:
    """Credentials that do not exist, the same ones every time for the same login.

    Offered when a login names nobody or an account without passkeys, so the begin answer does
    not tell whether an account exists or has passkeys: one to two descriptors shaped like
    real ones, derived from the server secret and the login (repeat calls agree, as they would
    for a real account). Keyed by the login as typed, not by the account: the email address
    and the username of one account get different decoys, like two unknown logins would.
    """
    key = login.strip().lower()
    shape = salted_hmac(_DECOY_SALT, f"{key}\x00shape", algorithm="sha256").digest()
    descriptors = []
    for index in range(1 + shape[0] % 2):
        length = _DECOY_ID_LENGTHS[shape[1 + index] % len(_DECOY_ID_LENGTHS)]
        transports = _DECOY_TRANSPORTS[shape[3 + index] % len(_DECOY_TRANSPORTS)]
        material = salted_hmac(_DECOY_SALT, f"{key}\x00id\x00{index}", algorithm="sha512")
        descriptors.append(
            PublicKeyCredentialDescriptor(
                id=material.digest()[:length], transports=list(transports)
            )
        )
    return descriptors


def _store_challenge(
    *,
    purpose: str,
    challenge: bytes,
    now: datetime,
    user: User | None = None,
    session: Session | None = None,
    discoverable: bool = False,
) -> WebAuthnChallenge:
    return WebAuthnChallenge.objects.create(
        purpose=purpose,
        challenge=challenge,
        user=user,
        session=session,
        discoverable=discoverable,
        created_at=now,
        expires_at=now + CHALLENGE_LIFETIME,
    )


def _claim_challenge(
    ceremony_id: uuid.UUID, *, purpose: str, now: datetime, session: Session | None = None
) -> WebAuthnChallenge:
    """Use up a challenge: one conditional UPDATE, committed by itself (call it outside any
    transaction), so it stays used whatever happens next. Unknown, expired, used, of another
    purpose or begun by another session: WEBAUTHN_CHALLENGE_INVALID."""
    claimable = WebAuthnChallenge.objects.filter(
        pk=ceremony_id, purpose=purpose, used_at__isnull=True, expires_at__gt=now
    )
    if session is not None:
        claimable = claimable.filter(session=session)
    if claimable.update(used_at=now) != 1:
        raise ChallengeInvalid(
            "This ceremony is unknown, has expired or was already finished; begin a new one."
        )
    return WebAuthnChallenge.objects.get(pk=ceremony_id)


def _refused(
    request: HttpRequest, event: str, *, user_id: int | None, reason: str
) -> PasskeyVerificationFailed:
    """Log a refused response (outside any transaction, so it stays on record) and return the
    one error every refusal gives the client."""
    record_security_event(
        event, request=request, user_id=user_id, details={"reason": reason[:_REASON_MAX]}
    )
    return PasskeyVerificationFailed(_REFUSED)


# Registration


def do_begin_registration(*, user: User, session: Session) -> Ceremony:
    """Start adding a passkey (the view requires sudo). Excludes the user's credentials, so an
    authenticator that already holds one for this account refuses to make another.

    Creates the user's WebAuthn user handle on first use (INSERT … ON CONFLICT DO NOTHING, so
    concurrent begins agree on one handle). No locks.
    """
    now = timezone.now()
    existing = passkeys_of(user)
    if len(existing) >= MAX_PASSKEYS_PER_USER:
        raise PasskeyLimitReached(
            f"An account can have at most {MAX_PASSKEYS_PER_USER} passkeys; remove one first."
        )
    options = generate_registration_options(
        rp_id=_rp_id(),
        rp_name=settings.WEBAUTHN_RP_NAME,
        user_name=user.username,
        user_id=_user_handle(user),
        user_display_name=user.full_name or user.username,
        timeout=CEREMONY_TIMEOUT_MS,
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[_descriptor(credential) for credential in existing],
    )
    row = _store_challenge(
        purpose=WebAuthnChallenge.Purpose.REGISTER,
        challenge=options.challenge,
        now=now,
        user=user,
        session=session,
    )
    return Ceremony(ceremony_id=row.pk, options=_options_json(options))


def _user_handle(user: User) -> bytes:
    handle = user_handle_of(user.pk)
    if handle is None:
        WebAuthnUserHandle.objects.bulk_create(
            [WebAuthnUserHandle(user=user, handle=secrets.token_bytes(USER_HANDLE_BYTES))],
            ignore_conflicts=True,
        )
        handle = user_handle_of(user.pk)
    assert handle is not None  # inserted above, or by a concurrent begin
    return handle


def do_finish_registration(
    request: HttpRequest,
    *,
    user: User,
    session: Session,
    ceremony_id: uuid.UUID,
    name: str,
    credential: dict[str, Any],
) -> Credential:
    """Verify a new credential and store it as a passkey named `name`.

    Claims the challenge first (only the session that began the ceremony can). Then one
    transaction locks the user row (SELECT … FOR UPDATE), re-checks the passkey limit, inserts
    the credential (a credential id already on record, anyone's, is 409) and writes the
    "passkey_added" event and the notice mail.
    """
    now = timezone.now()
    challenge = _claim_challenge(
        ceremony_id, purpose=WebAuthnChallenge.Purpose.REGISTER, now=now, session=session
    )
    try:
        parsed = parse_registration_credential_json(credential)
        verified = verify_registration_response(
            credential=parsed,
            expected_challenge=bytes(challenge.challenge),
            expected_rp_id=_rp_id(),
            expected_origin=_origins(),
            require_user_presence=True,
            require_user_verification=True,
        )
    # py_webauthn raises its own exceptions for what it checks, but not for everything a
    # garbled response can make its parsers trip on (CBOR, COSE, ASN.1). Whatever the reason,
    # an unverifiable response is the client's problem, never a 500.
    except Exception as error:
        raise _refused(
            request, EVENT_PASSKEY_REGISTRATION_FAILED, user_id=user.pk, reason=str(error)
        ) from None
    if verified.credential_id != parsed.raw_id:
        raise _refused(
            request,
            EVENT_PASSKEY_REGISTRATION_FAILED,
            user_id=user.pk,
            reason="rawId differs from the attested credential id",
        )
    if len(verified.credential_id) > CREDENTIAL_ID_MAX_BYTES:
        raise _refused(
            request,
            EVENT_PASSKEY_REGISTRATION_FAILED,
            user_id=user.pk,
            reason="credential id longer than 1023 bytes",
        )
    handle = user_handle_of(user.pk)
    if handle is None:  # begin created it; only a deleted-and-recreated account lacks it
        raise _refused(
            request, EVENT_PASSKEY_REGISTRATION_FAILED, user_id=user.pk, reason="no user handle"
        )

    with transaction.atomic():
        account = User.objects.select_for_update().get(pk=user.pk)
        if passkey_count(account.pk) >= MAX_PASSKEYS_PER_USER:
            raise PasskeyLimitReached(
                f"An account can have at most {MAX_PASSKEYS_PER_USER} passkeys; remove one first."
            )
        try:
            with transaction.atomic():
                passkey = Credential.objects.create(
                    user=account,
                    credential_id=verified.credential_id,
                    public_key=verified.credential_public_key,
                    attestation_type=AttestationFormat(verified.fmt).value,
                    name=name,
                    sign_count=verified.sign_count,
                    transports=_transports(parsed),
                    aaguid=uuid.UUID(verified.aaguid),
                    backup_eligible=(
                        verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE
                    ),
                    backup_state=verified.credential_backed_up,
                    user_handle=handle,
                    created_at=now,
                )
        except IntegrityError:
            raise PasskeyAlreadyRegistered(
                "This passkey is already registered; each one can be added once."
            ) from None
        record_security_event(
            EVENT_PASSKEY_ADDED,
            request=request,
            user_id=account.pk,
            details={"passkey_id": passkey.pk, "name": name, "aaguid": str(passkey.aaguid)},
        )
        subject, body = mails.passkey_added(name=_addressee(account), passkey_name=name)
        enqueue_mail(kind=EVENT_PASSKEY_ADDED, to=account.email, subject=subject, body=body)
    return passkey


def _transports(parsed: RegistrationCredential) -> list[str]:
    reported = parsed.response.transports or []
    return sorted({transport.value for transport in reported})


# Login


def do_begin_login(*, login: str | None) -> Ceremony:
    """Start a passkey login. Without `login` it is discoverable: allowCredentials is empty and
    the authenticator offers whichever passkey of ours it holds. With one, allowCredentials
    lists that account's passkeys, or decoys when the login names nobody or an account without
    passkeys (see `_decoy_descriptors`): the answer never reveals either. Only writes the
    challenge row; no locks.
    """
    now = timezone.now()
    user: User | None = None
    allow: list[PublicKeyCredentialDescriptor] = []
    if login is not None:
        user = user_for_login(login)
        registered = passkeys_of(user) if user is not None else []
        allow = [_descriptor(credential) for credential in registered]
        if not allow:
            allow = _decoy_descriptors(login)
    options = generate_authentication_options(
        rp_id=_rp_id(),
        timeout=CEREMONY_TIMEOUT_MS,
        allow_credentials=allow,
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    row = _store_challenge(
        purpose=WebAuthnChallenge.Purpose.LOGIN,
        challenge=options.challenge,
        now=now,
        user=user,
        discoverable=login is None,
    )
    return Ceremony(ceremony_id=row.pk, options=_options_json(options))


def do_finish_login(
    request: HttpRequest,
    *,
    ceremony_id: uuid.UUID,
    credential: dict[str, Any],
    device_fingerprint: str | None,
) -> LoginResult:
    """Verify an assertion and open a session for the passkey's owner (`amr` ["hwk"]).

    The passkey must be the named account's when the begin named one; a discoverable login
    must return the credential's user handle. After the claim, one transaction opens the
    session (authn's `do_open_session`: locks the user row, refuses unverified or locked
    accounts), then locks the credential row to record the use and writes the
    "passkey_login" event and the notice mail. Refusals are logged as "passkey_login_failed".
    """
    now = timezone.now()
    challenge = _claim_challenge(ceremony_id, purpose=WebAuthnChallenge.Purpose.LOGIN, now=now)
    parsed = _parse_assertion(request, credential, EVENT_PASSKEY_LOGIN_FAILED, challenge.user_id)
    stored = credential_by_id(parsed.raw_id)
    if stored is None:
        raise _refused(
            request,
            EVENT_PASSKEY_LOGIN_FAILED,
            user_id=challenge.user_id,
            reason="unknown credential",
        )
    if not challenge.discoverable and stored.user_id != challenge.user_id:
        raise _refused(
            request,
            EVENT_PASSKEY_LOGIN_FAILED,
            user_id=challenge.user_id,
            reason=f"credential {stored.pk} is not the named account's",
        )
    verified = _verify_assertion(
        request,
        parsed,
        challenge,
        stored,
        event=EVENT_PASSKEY_LOGIN_FAILED,
        user_handle_required=challenge.discoverable,
    )

    with transaction.atomic():
        result = do_open_session(
            request,
            user_id=stored.user_id,
            device_fingerprint=device_fingerprint,
            amr=[AMR_PASSKEY],
        )
        use = _record_use(request, stored, verified, now, ceremony="login")
        record_security_event(
            EVENT_PASSKEY_LOGIN,
            request=request,
            user_id=result.user.pk,
            details={"passkey_id": stored.pk, "session_id": str(result.session.pk)},
        )
        subject, body = mails.passkey_login(
            name=_addressee(result.user),
            passkey_name=use.credential.name,
            when=iso_z(now),
            ip_address=client_ip(request),
            user_agent=user_agent(request),
        )
        enqueue_mail(kind=EVENT_PASSKEY_LOGIN, to=result.user.email, subject=subject, body=body)
    return result


# Sudo


def do_begin_sudo(*, user: User, session: Session) -> Ceremony:
    """Start proving presence with one of the user's passkeys; the challenge is bound to
    `session`. No passkeys: 409 PASSKEY_NONE_REGISTERED. Only writes the challenge row."""
    now = timezone.now()
    registered = passkeys_of(user)
    if not registered:
        raise NoPasskeys("This account has no passkey; confirm with your password instead.")
    options = generate_authentication_options(
        rp_id=_rp_id(),
        timeout=CEREMONY_TIMEOUT_MS,
        allow_credentials=[_descriptor(credential) for credential in registered],
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    row = _store_challenge(
        purpose=WebAuthnChallenge.Purpose.SUDO,
        challenge=options.challenge,
        now=now,
        user=user,
        session=session,
    )
    return Ceremony(ceremony_id=row.pk, options=_options_json(options))


def do_finish_sudo(
    request: HttpRequest,
    *,
    user: User,
    session: Session,
    ceremony_id: uuid.UUID,
    credential: dict[str, Any],
) -> IssuedSudo:
    """Verify an assertion by one of the user's passkeys and grant sudo to `session` (the one
    that began the ceremony). One transaction locks the credential row to record the use and
    grants sudo (sudo's `do_grant_sudo`, method "hwk")."""
    now = timezone.now()
    challenge = _claim_challenge(
        ceremony_id, purpose=WebAuthnChallenge.Purpose.SUDO, now=now, session=session
    )
    parsed = _parse_assertion(request, credential, EVENT_PASSKEY_SUDO_FAILED, user.pk)
    stored = credential_by_id(parsed.raw_id, user_id=user.pk)
    if stored is None:
        raise _refused(
            request,
            EVENT_PASSKEY_SUDO_FAILED,
            user_id=user.pk,
            reason="not one of the user's credentials",
        )
    verified = _verify_assertion(
        request, parsed, challenge, stored, event=EVENT_PASSKEY_SUDO_FAILED
    )
    with transaction.atomic():
        _record_use(request, stored, verified, now, ceremony="sudo")
        return do_grant_sudo(request, session=session, method=SUDO_METHOD_PASSKEY)


# Assertions


def _parse_assertion(
    request: HttpRequest, credential: dict[str, Any], event: str, user_id: int | None
) -> AuthenticationCredential:
    try:
        return parse_authentication_credential_json(credential)
    except Exception as error:  # any parse failure: see do_finish_registration
        raise _refused(request, event, user_id=user_id, reason=str(error)) from None


def _verify_assertion(
    request: HttpRequest,
    parsed: AuthenticationCredential,
    challenge: WebAuthnChallenge,
    stored: Credential,
    *,
    event: str,
    user_handle_required: bool = False,
) -> VerifiedAuthentication:
    """Check the user handle, then signature, challenge, origin, RP id hash and the UP and UV
    flags (py_webauthn). Refusals are logged as `event` and raise PASSKEY_VERIFICATION_FAILED."""
    returned_handle = parsed.response.user_handle
    if returned_handle is None and user_handle_required:
        raise _refused(request, event, user_id=stored.user_id, reason="no user handle returned")
    if returned_handle is not None and not secrets.compare_digest(
        returned_handle, bytes(stored.user_handle)
    ):
        raise _refused(request, event, user_id=stored.user_id, reason="user handle mismatch")
    try:
        return verify_authentication_response(
            credential=parsed,
            expected_challenge=bytes(challenge.challenge),
            expected_rp_id=_rp_id(),
            expected_origin=_origins(),
            credential_public_key=bytes(stored.public_key),
            # py_webauthn refuses a counter that did not grow. Our policy is to accept it and
            # record it (synced passkeys and some platforms misreport), so it compares against
            # 0 here, which disables its check; _record_use compares under the row lock.
            credential_current_sign_count=0,
            require_user_verification=True,
        )
    except Exception as error:  # any parse failure: see do_finish_registration
        raise _refused(request, event, user_id=stored.user_id, reason=str(error)) from None


def _record_use(
    request: HttpRequest,
    credential: Credential,
    verified: VerifiedAuthentication,
    now: datetime,
    *,
    ceremony: str,
) -> _Use:
    """Store what a verified assertion says about its credential; runs in the caller's
    transaction and locks the credential row. A passkey deleted meanwhile refuses the
    assertion (the transaction rolls back)."""
    locked = Credential.objects.select_for_update().filter(pk=credential.pk).first()
    if locked is None:
        raise PasskeyVerificationFailed(_REFUSED)
    use = _Use(
        credential=locked,
        stored_sign_count=locked.sign_count,
        received_sign_count=verified.new_sign_count,
    )
    locked.sign_count = max(locked.sign_count, verified.new_sign_count)
    locked.backup_state = verified.credential_backed_up
    locked.last_used_at = now
    locked.save(update_fields=["sign_count", "backup_state", "last_used_at"])
    if use.regressed:
        logger.warning(
            "passkey sign counter did not increase",
            extra={"passkey_id": locked.pk, "user_id": locked.user_id},
        )
        record_security_event(
            EVENT_SIGN_COUNT_REGRESSION,
            request=request,
            user_id=locked.user_id,
            details={
                "passkey_id": locked.pk,
                "ceremony": ceremony,
                "stored_sign_count": use.stored_sign_count,
                "received_sign_count": use.received_sign_count,
            },
        )
    return use


# Managing passkeys


def do_rename_passkey(request: HttpRequest, *, credential: Credential, name: str) -> Credential:
    """Rename one of the user's passkeys (from `selectors.access_passkey`). One transaction:
    the UPDATE, the "passkey_renamed" event and the notice mail; an unchanged name writes
    nothing."""
    if name == credential.name:
        return credential
    old_name = credential.name
    with transaction.atomic():
        updated = Credential.objects.filter(pk=credential.pk, user_id=credential.user_id).update(
            name=name
        )
        if updated != 1:
            raise PasskeyNotFound()
        user = User.objects.get(pk=credential.user_id)
        record_security_event(
            EVENT_PASSKEY_RENAMED,
            request=request,
            user_id=user.pk,
            details={"passkey_id": credential.pk, "old_name": old_name, "name": name},
        )
        subject, body = mails.passkey_renamed(
            name=_addressee(user), old_name=old_name, new_name=name
        )
        enqueue_mail(kind=EVENT_PASSKEY_RENAMED, to=user.email, subject=subject, body=body)
    credential.name = name
    return credential


def do_delete_passkey(request: HttpRequest, *, credential: Credential) -> None:
    """Remove one of the user's passkeys (from `selectors.access_passkey`; the view requires
    sudo). One transaction: the DELETE, the "passkey_removed" event and the notice mail."""
    with transaction.atomic():
        deleted, _ = Credential.objects.filter(
            pk=credential.pk, user_id=credential.user_id
        ).delete()
        if not deleted:
            raise PasskeyNotFound()
        user = User.objects.get(pk=credential.user_id)
        record_security_event(
            EVENT_PASSKEY_REMOVED,
            request=request,
            user_id=user.pk,
            details={"passkey_id": credential.pk, "name": credential.name},
        )
        subject, body = mails.passkey_removed(name=_addressee(user), passkey_name=credential.name)
        enqueue_mail(kind=EVENT_PASSKEY_REMOVED, to=user.email, subject=subject, body=body)


def purge_expired_challenges(now: datetime | None = None) -> int:
    """Delete challenges past use (for the worker's housekeeping); return how many."""
    horizon = (now or timezone.now()) - CHALLENGE_RETENTION
    deleted, _ = WebAuthnChallenge.objects.filter(expires_at__lte=horizon).delete()
    return deleted


def _addressee(user: User) -> str:
    return user.full_name or user.username
