"""Every limit the core service enforces, in one table (README: "Rate limits")."""

from __future__ import annotations

from datetime import timedelta

from alephdraad_core.security.services import RateLimit

MINUTE = timedelta(minutes=1)
DAY = timedelta(days=1)

REGISTER_PER_IP = RateLimit("register:ip", 6, MINUTE)
LOGIN_PER_IP = RateLimit("login:ip", 10, MINUTE)
REFRESH_PER_IP = RateLimit("refresh:ip", 30, MINUTE)
# Verification and password-reset requests share one per-IP budget, as in the original.
EMAIL_REQUEST_PER_IP = RateLimit("email-request:ip", 10, MINUTE)
ADMIN_LOGIN_PER_IP = RateLimit("admin-login:ip", 5, timedelta(minutes=15))

# Mail caps: past these the request still answers 202 (no enumeration) but sends nothing.
VERIFICATION_MAIL_PER_ADDRESS = RateLimit("verify-mail:address", 2, DAY)
VERIFICATION_MAIL_PER_IP = RateLimit("verify-mail:ip", 10, DAY)
RESET_MAIL_PER_ADDRESS = RateLimit("reset-mail:address", 3, DAY)

# Wrong current passwords on POST /me/password, per user.
PASSWORD_CHANGE_PER_USER = RateLimit("password-change:user", 5, timedelta(minutes=15))
# DELETE /me: a few attempts per hour per account. Each asks the feature service first, so
# the cap also keeps one account from hammering it.
ACCOUNT_DELETE_PER_USER = RateLimit("account-delete:user", 5, timedelta(hours=1))

# Second factors (mfa/README.md). Counted on failures only (`hit` after a wrong answer, the
# count read before verifying), so a person who types right is never slowed down.
# Wrong TOTP or backup codes, per account, wherever they are typed (login, sudo, enable,
# disable); django-otp's per-device exponential delay applies on top for TOTP codes.
MFA_CODE_FAILURES_PER_USER = RateLimit("mfa-code-failures:user", 5, timedelta(minutes=15))
# Wrong passwords typed again to confirm a sensitive action (POST /auth/sudo, TOTP disable).
PASSWORD_CONFIRM_FAILURES_PER_USER = RateLimit(
    "password-confirm-failures:user", 5, timedelta(minutes=15)
)
# The second login step (/auth/login/totp, /auth/login/backup-code), per client IP.
MFA_LOGIN_PER_IP = RateLimit("mfa-login:ip", 10, MINUTE)
