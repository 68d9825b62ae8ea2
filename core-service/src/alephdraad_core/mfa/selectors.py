"""Reads of second-factor state: a user's TOTP device, backup codes left, failure budgets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from alephdraad_core.accounts.models import User
from alephdraad_core.mfa.models import BackupCode
from alephdraad_core.security.models import RateLimitCounter
from alephdraad_core.security.services import RateLimit


@dataclass(frozen=True)
class TotpStatus:
    enabled: bool
    # An unconfirmed device from POST /auth/totp/setup waits for POST /auth/totp/enable.
    pending_setup: bool
    created_at: datetime | None
    last_used_at: datetime | None
    backup_codes_remaining: int


def totp_status(user: User) -> TotpStatus:
    devices = list(TOTPDevice.objects.filter(user=user).order_by("-id"))
    confirmed = next((device for device in devices if device.confirmed), None)
    enabled = user.totp_enabled and confirmed is not None
    return TotpStatus(
        enabled=enabled,
        pending_setup=not enabled and any(not device.confirmed for device in devices),
        created_at=confirmed.created_at if enabled and confirmed else None,
        last_used_at=confirmed.last_used_at if enabled and confirmed else None,
        backup_codes_remaining=backup_codes_remaining(user.pk) if enabled else 0,
    )


def backup_codes_remaining(user_id: int) -> int:
    return BackupCode.objects.filter(user_id=user_id, is_used=False).count()


@dataclass(frozen=True)
class FailureBudget:
    """Failures of one identity in the current window of a RateLimit counted with `hit`."""

    failures: int
    limit: int
    reset_at: datetime

    @property
    def exhausted(self) -> bool:
        return self.failures >= self.limit


def failure_budget(
    rate_limit: RateLimit, identity: str, now: datetime | None = None
) -> FailureBudget:
    """Read, without counting, how many failures `security.services.hit` has recorded for
    `identity` in the current fixed window (same key and window arithmetic as `hit`).

    Checked before a code is verified, so that once the budget is spent even a right code is
    refused (otherwise the 429 would only hide wrong answers and guessing could go on).
    """
    moment = now or timezone.now()
    window_seconds = int(rate_limit.window.total_seconds())
    start_epoch = int(moment.timestamp()) // window_seconds * window_seconds
    window_start = datetime.fromtimestamp(start_epoch, tz=moment.tzinfo)
    key = f"{rate_limit.scope}:{identity}"[:255]
    hits = (
        RateLimitCounter.objects.filter(key=key, window_start=window_start)
        .values_list("hits", flat=True)
        .first()
    )
    return FailureBudget(
        failures=int(hits or 0),
        limit=rate_limit.limit,
        reset_at=window_start + rate_limit.window,
    )
