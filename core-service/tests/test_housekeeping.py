"""platform/housekeeping.py: the worker deletes rows nobody can use any more, and only those."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from alephdraad_core.accounts.models import EmailVerificationToken, PasswordResetToken, User
from alephdraad_core.platform.housekeeping import TOKEN_RETENTION, purge_expired
from alephdraad_core.security.models import RateLimitCounter

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
# What one purge reports when there is nothing to delete.
NOTHING = {
    "rate_limits": 0,
    "email_verification_tokens": 0,
    "password_reset_tokens": 0,
    "sudo_grants": 0,
    "mfa_login_tokens": 0,
    "webauthn_challenges": 0,
    "signature_nonces": 0,
    "event_outbox": 0,
    "handled_events": 0,
}


def _user() -> User:
    user = User(email="mira@example.com", username="mira")
    user.set_unusable_password()
    user.save()
    return user


def _counter(key: str, expires_at: datetime) -> None:
    RateLimitCounter.objects.create(
        key=key, window_start=expires_at - timedelta(minutes=1), hits=2, expires_at=expires_at
    )


def _token(
    model: type[EmailVerificationToken] | type[PasswordResetToken],
    user: User,
    name: str,
    expires_at: datetime,
    used_at: datetime | None = None,
) -> None:
    model.objects.create(
        user=user,
        token=hashlib.sha256(f"{model.__name__}:{name}".encode()).hexdigest(),
        expires_at=expires_at,
        created_at=expires_at - timedelta(hours=1),
        used_at=used_at,
    )


def _names(model: type[EmailVerificationToken] | type[PasswordResetToken]) -> set[str]:
    wanted = {
        hashlib.sha256(f"{model.__name__}:{name}".encode()).hexdigest(): name
        for name in ("ancient", "boundary", "recent", "live", "used")
    }
    return {wanted[token] for token in model.objects.values_list("token", flat=True)}


def test_expired_rate_limit_counters_are_deleted_and_live_ones_kept() -> None:
    _counter("login:ip:a", NOW - timedelta(minutes=5))
    _counter("login:ip:b", NOW)  # its window ends now: nothing can count in it any more
    _counter("login:ip:c", NOW + timedelta(seconds=1))
    _counter("verify-mail:address:m@example.com", NOW + timedelta(hours=20))

    purged = purge_expired(now=NOW)

    assert purged["rate_limits"] == 2
    assert sorted(RateLimitCounter.objects.values_list("key", flat=True)) == [
        "login:ip:c",
        "verify-mail:address:m@example.com",
    ]


def test_tokens_are_kept_for_the_retention_period_after_expiry_then_deleted() -> None:
    user = _user()
    for model in (EmailVerificationToken, PasswordResetToken):
        _token(model, user, "ancient", NOW - TOKEN_RETENTION - timedelta(days=3))
        _token(model, user, "boundary", NOW - TOKEN_RETENTION)
        # Expired, but within the retention: kept for support questions ("my link failed").
        _token(model, user, "recent", NOW - TOKEN_RETENTION + timedelta(seconds=1))
        _token(model, user, "live", NOW + timedelta(minutes=30))
        _token(model, user, "used", NOW + timedelta(minutes=30), used_at=NOW - timedelta(hours=2))

    purged = purge_expired(now=NOW)

    assert purged == {**NOTHING, "email_verification_tokens": 2, "password_reset_tokens": 2}
    for model in (EmailVerificationToken, PasswordResetToken):
        assert _names(model) == {"recent", "live", "used"}
    assert User.objects.filter(pk=user.pk).exists()


def test_purging_again_deletes_nothing_more() -> None:
    user = _user()
    _token(PasswordResetToken, user, "ancient", NOW - timedelta(days=30))
    _counter("login:ip:a", NOW - timedelta(minutes=5))

    assert purge_expired(now=NOW) == {**NOTHING, "rate_limits": 1, "password_reset_tokens": 1}
    assert purge_expired(now=NOW) == NOTHING
