"""Plain-text bodies of the mail accounts sends; each returns (subject, body).

Links are built from PUBLIC_URL, never from the request's Host header (a forged Host would
otherwise send a victim a reset link to the attacker's site).
"""

from __future__ import annotations

from django.conf import settings

SITE_NAME = "Alephdraad"


def public_link(path: str) -> str:
    return f"{settings.PUBLIC_URL}{path}"


def _greeting(name: str) -> str:
    return f"Hello {name}," if name else "Hello,"


def verify_email(*, name: str, token: str, valid_hours: int) -> tuple[str, str]:
    link = public_link(f"/verify-email?token={token}")
    body = f"""{_greeting(name)}

please confirm that this address belongs to your {SITE_NAME} account by opening this link:

{link}

The link works once and expires in {valid_hours} hours. If you did not create an account,
ignore this message; nothing will happen.

— {SITE_NAME}
"""
    return f"Confirm your {SITE_NAME} email address", body


def register_attempt_existing(*, name: str) -> tuple[str, str]:
    body = f"""{_greeting(name)}

someone just tried to create a {SITE_NAME} account with this email address, which already
has an account. No new account was created and nothing about yours has changed.

If it was you: log in at {public_link("/login")}. If you forgot your password, reset it at
{public_link("/forgot-password")}. If you never confirmed this address, you can ask for a new
confirmation link on the login page.

If it was not you, you can ignore this message.

— {SITE_NAME}
"""
    return f"Someone tried to register with your {SITE_NAME} address", body


def password_reset(*, name: str, token: str, valid_minutes: int) -> tuple[str, str]:
    link = public_link(f"/reset-password?token={token}")
    body = f"""{_greeting(name)}

someone (hopefully you) asked to reset the password of your {SITE_NAME} account. To choose a
new password, open this link:

{link}

The link works once and expires in {valid_minutes} minutes. Setting a new password signs out
every device logged in to your account.

If you did not ask for this, ignore this message: your password stays as it is.

— {SITE_NAME}
"""
    return f"Reset your {SITE_NAME} password", body


def password_changed(*, name: str, by_reset: bool) -> tuple[str, str]:
    how = "reset through a link sent to this address" if by_reset else "changed"
    signed_out = "every device was" if by_reset else "every other device was"
    body = f"""{_greeting(name)}

the password of your {SITE_NAME} account was just {how}, and {signed_out} signed out.

If this was you, there is nothing more to do.

If this wasn't you, someone else may have access to your account or your mailbox: reset
your password now at {public_link("/forgot-password")}, and secure this email account too.

— {SITE_NAME}
"""
    return f"Your {SITE_NAME} password was changed", body
