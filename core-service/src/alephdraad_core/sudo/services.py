"""Granting and ending sudo mode. Verifying the password/code/passkey is the caller's job."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from alephdraad_core.authn.models import Session
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
