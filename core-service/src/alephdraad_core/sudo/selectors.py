from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from alephdraad_core.authn.models import Session
from alephdraad_core.sudo.models import SudoGrant
from alephdraad_core.sudo.services import hash_sudo_token


def active_sudo_grant(
    session: Session, token: str | None, now: datetime | None = None
) -> SudoGrant | None:
    """The live grant this token names, if it belongs to `session`; else None."""
    if not token:
        return None
    return SudoGrant.objects.filter(
        session=session,
        token_hash=hash_sudo_token(token),
        revoked_at__isnull=True,
        expires_at__gt=now or timezone.now(),
    ).first()


def current_sudo_grant(session: Session, now: datetime | None = None) -> SudoGrant | None:
    """The session's live grant whatever token the client holds (for GET /auth/sudo)."""
    return (
        SudoGrant.objects.filter(
            session=session, revoked_at__isnull=True, expires_at__gt=now or timezone.now()
        )
        .order_by("-created_at")
        .first()
    )
