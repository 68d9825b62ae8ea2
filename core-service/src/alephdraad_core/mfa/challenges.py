"""The first half of a two-step login: the password was right and 2FA is on.

Kept apart from services.py because authn's `do_login` calls it, while services.py (the second
half) calls authn's `do_open_session`; this module imports nothing from authn.services.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.http import HttpRequest
from django.utils import timezone

from alephdraad_core.accounts.models import User
from alephdraad_core.mfa.codes import BACKUP_CODE, TOTP, hash_login_token, new_login_token
from alephdraad_core.mfa.models import MfaLoginToken
from alephdraad_core.mfa.selectors import backup_codes_remaining
from alephdraad_core.platform.http import client_ip
from alephdraad_core.security.services import record_security_event

MFA_LOGIN_TOKEN_LIFETIME = timedelta(minutes=5)
EVENT_MFA_CHALLENGE = "mfa_challenge_issued"


@dataclass(frozen=True)
class MfaChallenge:
    """What the login answers instead of tokens: finish with one of `methods`."""

    user: User
    token: str
    expires_in: int
    methods: list[str]


def do_issue_mfa_challenge(
    request: HttpRequest, *, user: User, device_fingerprint_hash: str | None
) -> MfaChallenge:
    """Store a new login token (only its SHA-256) for a user whose password was just verified,
    and log "mfa_challenge_issued". One INSERT, no locks."""
    now = timezone.now()
    token = new_login_token()
    MfaLoginToken.objects.create(
        user=user,
        token_hash=hash_login_token(token),
        device_fingerprint=device_fingerprint_hash,
        ip_address=client_ip(request),
        created_at=now,
        expires_at=now + MFA_LOGIN_TOKEN_LIFETIME,
    )
    methods = [TOTP]
    if backup_codes_remaining(user.pk):
        methods.append(BACKUP_CODE)
    record_security_event(EVENT_MFA_CHALLENGE, request=request, user_id=user.pk)
    return MfaChallenge(
        user=user,
        token=token,
        expires_in=int(MFA_LOGIN_TOKEN_LIFETIME.total_seconds()),
        methods=methods,
    )
