"""Deleting rows nobody can use any more; run by the worker (`manage.py run_worker`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from alephdraad_core.accounts.models import EmailVerificationToken, PasswordResetToken
from alephdraad_core.internal.nonces import purge_expired_nonces
from alephdraad_core.mfa.models import MfaLoginToken
from alephdraad_core.passkeys.services import purge_expired_challenges
from alephdraad_core.security.services import purge_expired_counters
from alephdraad_core.sudo.models import SudoGrant

# Used or expired single-use tokens are kept a day for support questions ("my link failed").
TOKEN_RETENTION = timedelta(days=1)


def purge_expired(now: datetime | None = None) -> dict[str, int]:
    moment = now or timezone.now()
    horizon = moment - TOKEN_RETENTION
    purged = {"rate_limits": purge_expired_counters(moment)}
    for model in (EmailVerificationToken, PasswordResetToken, SudoGrant, MfaLoginToken):
        deleted, _ = model.objects.filter(expires_at__lte=horizon).delete()
        purged[model._meta.db_table] = deleted
    purged["webauthn_challenges"] = purge_expired_challenges(moment)
    purged["signature_nonces"] = purge_expired_nonces(moment)
    return purged
