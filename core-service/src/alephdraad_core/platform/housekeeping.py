"""Deleting rows nobody can use any more; run by the worker (`manage.py run_worker`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from alephdraad_core.accounts.models import EmailVerificationToken, PasswordResetToken
from alephdraad_core.internal.nonces import purge_expired_nonces
from alephdraad_core.mfa.models import MfaLoginToken
from alephdraad_core.outbox.models import HandledEvent, OutboxEvent
from alephdraad_core.passkeys.services import purge_expired_challenges
from alephdraad_core.security.services import purge_expired_counters
from alephdraad_core.sudo.models import SudoGrant

# Used or expired single-use tokens are kept a day for support questions ("my link failed").
TOKEN_RETENTION = timedelta(days=1)
# Delivered events are kept a week to answer "did core tell the feature service about X, and
# when?" from the database; after that the logs (same event id, same request id) remain.
DELIVERED_EVENT_RETENTION = timedelta(days=7)
# A handled event's record is what makes a redelivery a no-op, so it must outlive any
# redelivery: the producer resends only until it sees an acknowledgement (minutes at its
# longest backoff), and 30 days also covers a producer restored from an older backup or an
# operator replaying its outbox. Past that, a copy of the event would be handled again.
HANDLED_EVENT_RETENTION = timedelta(days=30)


def purge_expired(now: datetime | None = None) -> dict[str, int]:
    moment = now or timezone.now()
    horizon = moment - TOKEN_RETENTION
    purged = {"rate_limits": purge_expired_counters(moment)}
    for model in (EmailVerificationToken, PasswordResetToken, SudoGrant, MfaLoginToken):
        deleted, _ = model.objects.filter(expires_at__lte=horizon).delete()
        purged[model._meta.db_table] = deleted
    purged["webauthn_challenges"] = purge_expired_challenges(moment)
    purged["signature_nonces"] = purge_expired_nonces(moment)
    purged["event_outbox"], _ = OutboxEvent.objects.filter(
        status=OutboxEvent.Status.DELIVERED,
        delivered_at__lt=moment - DELIVERED_EVENT_RETENTION,
    ).delete()
    purged["handled_events"], _ = HandledEvent.objects.filter(
        handled_at__lt=moment - HANDLED_EVENT_RETENTION
    ).delete()
    return purged
