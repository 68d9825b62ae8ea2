"""Granting and ending sudo mode.

`do_grant_sudo` trusts its caller to have verified presence (the passkey ceremony does its
own); `do_sudo_with_password` verifies a password and, when 2FA is on, a TOTP or backup code.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from alephdraad_core.accounts.models import User
from alephdraad_core.authn.models import Session
from alephdraad_core.mfa.codes import TOTP, SecondFactorCode
from alephdraad_core.mfa.errors import MfaCodeRequired
from alephdraad_core.mfa.services import check_password_confirmation, do_verify_second_factor
from alephdraad_core.security.services import record_security_event
from alephdraad_core.sudo.models import SudoGrant

SUDO_LIFETIME = timedelta(minutes=15)
SUDO_HEADER = "X-Sudo-Token"


def hash_sudo_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedSudo:
    token: str
    expires_at: datetime


def do_grant_sudo(request: HttpRequest, *, session: Session, method: str) -> IssuedSudo:
    """Start sudo mode for `session` (ending any earlier grant of it); log "sudo_granted".

    One transaction: earlier grants of the session are revoked and the new one inserted."""
    now = timezone.now()
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        SudoGrant.objects.filter(session=session, revoked_at__isnull=True).update(revoked_at=now)
        grant = SudoGrant.objects.create(
            session=session,
            token_hash=hash_sudo_token(token),
            method=method,
            created_at=now,
            expires_at=now + SUDO_LIFETIME,
        )
    record_security_event(
        "sudo_granted",
        request=request,
        user_id=session.user_id,
        details={"session_id": str(session.pk), "method": method},
    )
    return IssuedSudo(token=token, expires_at=grant.expires_at)


def do_sudo_with_password(
    request: HttpRequest,
    *,
    user: User,
    session: Session,
    password: str,
    code: SecondFactorCode | None,
) -> IssuedSudo:
    """Re-authenticate with the password, plus a TOTP or backup code when 2FA is on, and
    grant sudo mode to `session`.

    The password is checked first (wrong: 400 PASSWORD_INCORRECT, failures limited per
    account); then the code, which is spent like at login (mfa.services locks the user row).
    A code sent while 2FA is off is ignored. Method: "pwd", "pwd+otp" or "pwd+backup".
    """
    check_password_confirmation(request, user=user, password=password, context="sudo")
    method = "pwd"
    if user.totp_enabled:
        if code is None:
            raise MfaCodeRequired(
                "Two-factor authentication is on: send a code from your authenticator app "
                "or a backup code as well."
            )
        kind = do_verify_second_factor(request, user=user, code=code, context="sudo")
        method = "pwd+otp" if kind == TOTP else "pwd+backup"
    return do_grant_sudo(request, session=session, method=method)


def do_end_sudo(request: HttpRequest, *, session: Session) -> int:
    ended = SudoGrant.objects.filter(session=session, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    if ended:
        record_security_event(
            "sudo_ended",
            request=request,
            user_id=session.user_id,
            details={"session_id": str(session.pk)},
        )
    return ended
