"""State changes of second factors: TOTP setup, enable and disable; backup codes; the second
step of a login; verifying a code for another domain (sudo).

Lock order (as in authn): the user row first (SELECT … FOR UPDATE), then the MFA login token,
the TOTP device and the backup codes. Every verification of a code runs with the user row
locked, so one account's attempts are served one at a time: the failure budget is read and
counted exactly, and two racing requests cannot both spend one code (django-otp's `last_t`
and a backup code's `is_used` are decided under the lock; the backup code's conditional
UPDATE would refuse the second use even without it).

A failed attempt must stay on record although the request fails: verification returns a
verdict from its transaction, which commits the django-otp throttle and the failure count,
and the error is raised after the commit. Security events are written after the transaction.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime

import segno
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django_otp.plugins.otp_totp.models import TOTPDevice

from alephdraad_core.accounts.models import User
from alephdraad_core.authn.services import LoginResult, do_open_session
from alephdraad_core.mail.services import enqueue_mail
from alephdraad_core.mfa import mails
from alephdraad_core.mfa.codes import (
    BACKUP_CODE,
    TOTP,
    TOTP_DIGITS,
    CodeKind,
    SecondFactorCode,
    hash_backup_code,
    hash_login_token,
    new_backup_codes,
)
from alephdraad_core.mfa.errors import (
    BackupCodeInvalid,
    MfaTokenInvalid,
    MfaTooManyAttempts,
    PasswordIncorrect,
    TotpAlreadyEnabled,
    TotpCodeInvalid,
    TotpNotEnabled,
    TotpSetupRequired,
)
from alephdraad_core.mfa.models import BackupCode, MfaLoginToken
from alephdraad_core.mfa.selectors import backup_codes_remaining, failure_budget
from alephdraad_core.security.errors import RateLimited
from alephdraad_core.security.limits import (
    MFA_CODE_FAILURES_PER_USER,
    PASSWORD_CONFIRM_FAILURES_PER_USER,
)
from alephdraad_core.security.services import hit, record_security_event

# The settings every authenticator app supports (RFC 6238 defaults): SHA-1, 6 digits, 30 s.
# One step either side is accepted for clock skew; django-otp remembers the last accepted
# step, so each code works once.
TOTP_STEP_SECONDS = 30
TOTP_TOLERANCE_STEPS = 1
TOTP_DEVICE_NAME = "Authenticator app"
# DESIGN section 4: "pwd" then "otp" for a one-time code, whether from the app or a backup
# code; the security events say which of the two it was.
MFA_LOGIN_AMR = ["pwd", "otp"]

EVENT_TOTP_SETUP = "totp_setup_started"
EVENT_TOTP_ENABLED = "totp_enabled"
EVENT_TOTP_DISABLED = "totp_disabled"
EVENT_TOTP_FAILED = "totp_failed"
EVENT_BACKUP_CODE_USED = "backup_code_used"
EVENT_BACKUP_CODE_FAILED = "backup_code_failed"
EVENT_BACKUP_CODES_REGENERATED = "backup_codes_regenerated"
EVENT_MFA_THROTTLED = "mfa_throttled"
EVENT_MFA_LOGIN_SUCCESS = "mfa_login_success"
EVENT_PASSWORD_CONFIRM_FAILED = "password_confirm_failed"  # noqa: S105 - an event name


@dataclass(frozen=True)
class TotpSetup:
    secret: str
    otpauth_uri: str
    qr_svg: str
    issuer: str


@dataclass(frozen=True)
class _Verdict:
    ok: bool
    kind: CodeKind
    # Set when the attempt was refused without looking at the code (budget spent, or
    # django-otp's exponential delay since the last wrong TOTP code).
    retry_at: datetime | None = None


# Codes


def totp_code_matches(device: TOTPDevice, code: str) -> bool:
    """django-otp's verification, the only one the server uses: the code of the current step
    (± TOTP_TOLERANCE_STEPS) above the last accepted step; saves `last_t` and drift on success
    and the throttle state on failure. Lock the device row first."""
    return bool(device.verify_token(code))


def consume_backup_code(user_id: int, normalized: str, now: datetime) -> bool:
    """Spend one unused backup code of the user; False when none matches.

    Every unused hash is compared in constant time (no early exit), then the match is spent
    with `UPDATE … WHERE is_used = false`: of two concurrent uses exactly one changes the row.
    """
    presented = hash_backup_code(normalized)
    match = None
    unused = BackupCode.objects.filter(user_id=user_id, is_used=False).values_list(
        "pk", "code_hash"
    )
    for pk, stored in unused:
        if constant_time_compare(stored, presented):
            match = pk
    if match is None:
        return False
    spent = BackupCode.objects.filter(pk=match, is_used=False).update(is_used=True, used_at=now)
    return spent == 1


def _verify_locked(
    user: User, code: SecondFactorCode, now: datetime, *, device: TOTPDevice | None = None
) -> _Verdict:
    """Check one code of `user`. Runs in the caller's transaction with the user row locked;
    locks the confirmed TOTP device (or uses `device`, already locked)."""
    budget = failure_budget(MFA_CODE_FAILURES_PER_USER, str(user.pk), now)
    if budget.exhausted:
        return _Verdict(False, code.kind, retry_at=budget.reset_at)
    if code.kind == TOTP:
        if device is None:
            device = (
                TOTPDevice.objects.select_for_update()
                .filter(user=user, confirmed=True)
                .order_by("-id")
                .first()
            )
        if device is None:
            ok = False
        else:
            allowed, refusal = device.verify_is_allowed()
            if not allowed:
                return _Verdict(False, TOTP, retry_at=(refusal or {}).get("locked_until", now))
            ok = totp_code_matches(device, code.value)
    else:
        ok = consume_backup_code(user.pk, code.value, now)
    if not ok:
        hit(MFA_CODE_FAILURES_PER_USER, str(user.pk), now)
    return _Verdict(ok, code.kind)


def _raise_refused(request: HttpRequest, user: User, verdict: _Verdict, context: str) -> None:
    """Record a refused code (after its transaction committed) and raise the matching error."""
    now = timezone.now()
    if verdict.retry_at is not None:
        record_security_event(
            EVENT_MFA_THROTTLED, request=request, user_id=user.pk, details={"context": context}
        )
        raise MfaTooManyAttempts(verdict.retry_at, now)
    if verdict.kind == TOTP:
        record_security_event(
            EVENT_TOTP_FAILED, request=request, user_id=user.pk, details={"context": context}
        )
        raise TotpCodeInvalid("The code is wrong, has expired or was already used.")
    record_security_event(
        EVENT_BACKUP_CODE_FAILED, request=request, user_id=user.pk, details={"context": context}
    )
    raise BackupCodeInvalid("The backup code is wrong or was already used.")


def _notify_backup_code_used(user: User) -> int:
    """Queue the "backup code used" mail in the caller's transaction; return codes left."""
    remaining = backup_codes_remaining(user.pk)
    subject, body = mails.backup_code_used(name=user.full_name, remaining=remaining)
    enqueue_mail(kind="backup_code_used", to=user.email, subject=subject, body=body)
    return remaining


def _replace_backup_codes(user: User, now: datetime) -> list[str]:
    """Delete the user's codes and store a new set; return it (the only time it is seen)."""
    BackupCode.objects.filter(user=user).delete()
    codes = new_backup_codes()
    BackupCode.objects.bulk_create(
        BackupCode(user=user, code_hash=hash_backup_code(code.replace("-", "")), created_at=now)
        for code in codes
    )
    return codes


def _lock_user(user_id: int) -> User:
    return User.objects.select_for_update().get(pk=user_id)


# Password confirmation


def check_password_confirmation(
    request: HttpRequest, *, user: User, password: str, context: str
) -> None:
    """The signed-in user typed their password again (sudo, turning 2FA off).

    Wrong answers are limited per account (PASSWORD_CONFIRM_FAILURES_PER_USER, counted on
    failures only): past the limit even the right password gets 429 RATE_LIMITED until the
    window ends. Locks the user row while the count is read, the password verified and a
    failure counted, so concurrent guesses are counted exactly.
    """
    now = timezone.now()
    with transaction.atomic():
        locked = _lock_user(user.pk)
        budget = failure_budget(PASSWORD_CONFIRM_FAILURES_PER_USER, str(user.pk), now)
        correct = False
        if not budget.exhausted:
            correct = locked.check_password(password)
            if not correct:
                hit(PASSWORD_CONFIRM_FAILURES_PER_USER, str(user.pk), now)
    if budget.exhausted:
        wait = max(1, int((budget.reset_at - now).total_seconds()))
        raise RateLimited(
            f"Too many wrong passwords for this account; try again in {wait} s.",
            headers={"Retry-After": str(wait)},
        )
    if not correct:
        record_security_event(
            EVENT_PASSWORD_CONFIRM_FAILED,
            request=request,
            user_id=user.pk,
            details={"context": context},
        )
        raise PasswordIncorrect()


# TOTP


def do_setup_totp(request: HttpRequest, *, user: User) -> TotpSetup:
    """Create a new unconfirmed TOTP device (replacing any earlier unconfirmed one). 2FA stays
    off until POST /auth/totp/enable proves a code. Locks the user row."""
    with transaction.atomic():
        locked = _lock_user(user.pk)
        if locked.totp_enabled:
            raise TotpAlreadyEnabled("Two-factor authentication is already on; turn it off first.")
        TOTPDevice.objects.filter(user=locked).delete()
        device = TOTPDevice.objects.create(
            user=locked,
            name=TOTP_DEVICE_NAME,
            confirmed=False,
            step=TOTP_STEP_SECONDS,
            t0=0,
            digits=TOTP_DIGITS,
            tolerance=TOTP_TOLERANCE_STEPS,
        )
    record_security_event(EVENT_TOTP_SETUP, request=request, user_id=user.pk)
    uri = device.config_url
    return TotpSetup(
        secret=_base32(device),
        otpauth_uri=uri,
        qr_svg=segno.make(uri, error="m").svg_data_uri(scale=4, border=2),
        issuer=settings.OTP_TOTP_ISSUER,
    )


def _base32(device: TOTPDevice) -> str:
    """The secret as authenticator apps take it when typed in: base32, no padding."""
    return base64.b32encode(device.bin_key).decode("ascii").rstrip("=")


def do_enable_totp(request: HttpRequest, *, user: User, code: str) -> list[str]:
    """Turn 2FA on once a code from the device set up proves it works; return the new backup
    codes (shown this once). Locks the user row, then the unconfirmed device. A wrong code
    leaves 2FA off, counts as a failure and is answered 400 TOTP_CODE_INVALID."""
    now = timezone.now()
    codes: list[str] = []
    with transaction.atomic():
        locked = _lock_user(user.pk)
        if locked.totp_enabled:
            raise TotpAlreadyEnabled("Two-factor authentication is already on.")
        device = (
            TOTPDevice.objects.select_for_update()
            .filter(user=locked, confirmed=False)
            .order_by("-id")
            .first()
        )
        if device is None:
            raise TotpSetupRequired("Start with POST /api/v1/auth/totp/setup.")
        verdict = _verify_locked(locked, SecondFactorCode(TOTP, code), now, device=device)
        if verdict.ok:
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            locked.totp_enabled = True
            locked.save(update_fields=["totp_enabled", "updated_at"])
            codes = _replace_backup_codes(locked, now)
            subject, body = mails.totp_enabled(name=locked.full_name)
            enqueue_mail(kind="totp_enabled", to=locked.email, subject=subject, body=body)
    if not verdict.ok:
        _raise_refused(request, locked, verdict, "totp_enable")
    record_security_event(EVENT_TOTP_ENABLED, request=request, user_id=user.pk)
    user.totp_enabled = True
    return codes


def do_disable_totp(
    request: HttpRequest, *, user: User, password: str, code: SecondFactorCode
) -> None:
    """Turn 2FA off: the password again (check_password_confirmation), then a TOTP or backup
    code; deletes the device, the backup codes and pending login steps. The caller has
    checked sudo mode. Locks the user row, then the device."""
    if not user.totp_enabled:
        raise TotpNotEnabled("Two-factor authentication is not on.")
    check_password_confirmation(request, user=user, password=password, context="totp_disable")
    now = timezone.now()
    with transaction.atomic():
        locked = _lock_user(user.pk)
        if not locked.totp_enabled:
            raise TotpNotEnabled("Two-factor authentication is not on.")
        verdict = _verify_locked(locked, code, now)
        if verdict.ok:
            MfaLoginToken.objects.filter(user=locked).delete()
            TOTPDevice.objects.filter(user=locked).delete()
            BackupCode.objects.filter(user=locked).delete()
            locked.totp_enabled = False
            locked.totp_secret = None
            locked.save(update_fields=["totp_enabled", "totp_secret", "updated_at"])
            subject, body = mails.totp_disabled(name=locked.full_name)
            enqueue_mail(kind="totp_disabled", to=locked.email, subject=subject, body=body)
    if not verdict.ok:
        _raise_refused(request, locked, verdict, "totp_disable")
    record_security_event(
        EVENT_TOTP_DISABLED, request=request, user_id=user.pk, details={"method": code.kind}
    )
    user.totp_enabled = False


# Backup codes


def do_regenerate_backup_codes(request: HttpRequest, *, user: User) -> list[str]:
    """Replace the backup codes with a new set of 10 and return it; the old set stops working
    in the same transaction. The caller has checked sudo mode. Locks the user row."""
    with transaction.atomic():
        locked = _lock_user(user.pk)
        if not locked.totp_enabled:
            raise TotpNotEnabled("Backup codes exist only while two-factor authentication is on.")
        codes = _replace_backup_codes(locked, timezone.now())
        subject, body = mails.backup_codes_regenerated(name=locked.full_name)
        enqueue_mail(kind="backup_codes_regenerated", to=locked.email, subject=subject, body=body)
    record_security_event(EVENT_BACKUP_CODES_REGENERATED, request=request, user_id=user.pk)
    return codes


# Verifying a code for another action


def do_verify_second_factor(
    request: HttpRequest, *, user: User, code: SecondFactorCode, context: str
) -> CodeKind:
    """Verify and spend one TOTP or backup code of a user who has 2FA on (sudo mode).

    Locks the user row, then the device; a backup code is mailed about in the same
    transaction. Raises TotpCodeInvalid / BackupCodeInvalid / MfaTooManyAttempts.
    """
    now = timezone.now()
    remaining = None
    with transaction.atomic():
        locked = _lock_user(user.pk)
        if not locked.totp_enabled:
            raise TotpNotEnabled("Two-factor authentication is not on.")
        verdict = _verify_locked(locked, code, now)
        if verdict.ok and code.kind == BACKUP_CODE:
            remaining = _notify_backup_code_used(locked)
    if not verdict.ok:
        _raise_refused(request, locked, verdict, context)
    if remaining is not None:
        record_security_event(
            EVENT_BACKUP_CODE_USED,
            request=request,
            user_id=user.pk,
            details={"context": context, "remaining": remaining},
        )
    return code.kind


# The second step of a login


def do_complete_mfa_login(
    request: HttpRequest, *, mfa_token: str, code: SecondFactorCode
) -> LoginResult:
    """Finish a login that answered `mfa_required`: spend the login token and the code, then
    open the session (authn.services.do_open_session, amr ["pwd", "otp"]).

    The token's user is read first, then the user row locked and then the token row, so
    concurrent attempts with one token take turns. The token is spent only with a right
    code; a wrong one counts against the account (5 per 15 minutes, then 429). Unknown,
    expired and spent tokens are one 401 MFA_TOKEN_INVALID.
    """
    token_hash = hash_login_token(mfa_token)
    user_id = (
        MfaLoginToken.objects.filter(token_hash=token_hash)
        .values_list("user_id", flat=True)
        .first()
    )
    invalid = MfaTokenInvalid("This login step is unknown, has expired or was used; log in again.")
    if user_id is None:
        raise invalid
    now = timezone.now()
    remaining = None
    with transaction.atomic():
        user = User.objects.select_for_update().filter(pk=user_id).first()
        pending = (
            MfaLoginToken.objects.select_for_update()
            .filter(token_hash=token_hash, used_at__isnull=True, expires_at__gt=now)
            .first()
        )
        if user is None or pending is None or not user.totp_enabled:
            raise invalid
        verdict = _verify_locked(user, code, now)
        if verdict.ok:
            MfaLoginToken.objects.filter(pk=pending.pk).update(used_at=now)
            if code.kind == BACKUP_CODE:
                remaining = _notify_backup_code_used(user)
            else:
                # Every use of a factor is mailed (issue 5), so a stolen phone shows up.
                subject, body = mails.totp_login(name=user.full_name or user.username)
                enqueue_mail(kind="totp_login", to=user.email, subject=subject, body=body)
    if not verdict.ok:
        _raise_refused(request, user, verdict, "login")
    if remaining is not None:
        record_security_event(
            EVENT_BACKUP_CODE_USED,
            request=request,
            user_id=user.pk,
            details={"context": "login", "remaining": remaining},
        )
    result = do_open_session(
        request,
        user_id=user.pk,
        device_fingerprint=None,
        device_fingerprint_hash=pending.device_fingerprint,
        amr=MFA_LOGIN_AMR,
    )
    record_security_event(
        EVENT_MFA_LOGIN_SUCCESS,
        request=request,
        user_id=user.pk,
        details={"method": code.kind, "session_id": str(result.session.pk)},
    )
    return result
