"""Plain-text notices about second factors; each returns (subject, body).

Every change to how an account is protected is mailed, so a person learns at once about a
change they did not make (and what to do about it).
"""

from __future__ import annotations

from alephdraad_core.accounts.mails import SITE_NAME, public_link

_NOT_YOU = (
    "If this wasn't you, someone knows your password: reset it at "
    "{reset} at once (that also signs out every device) and check your account."
)


def _greeting(name: str) -> str:
    return f"Hello {name}," if name else "Hello,"


def _not_you() -> str:
    return _NOT_YOU.format(reset=public_link("/forgot-password"))


def totp_enabled(*, name: str) -> tuple[str, str]:
    body = f"""{_greeting(name)}

two-factor authentication is now on for your {SITE_NAME} account. From now on, signing in
with your password also asks for a code from your authenticator app.

Keep your backup codes somewhere safe: each one signs you in once if you lose your phone.

{_not_you()}

— {SITE_NAME}
"""
    return f"Two-factor authentication is on for your {SITE_NAME} account", body


def totp_disabled(*, name: str) -> tuple[str, str]:
    body = f"""{_greeting(name)}

two-factor authentication was turned off for your {SITE_NAME} account. Your authenticator
app and your backup codes no longer work; signing in needs only your password.

{_not_you()}

— {SITE_NAME}
"""
    return f"Two-factor authentication is off for your {SITE_NAME} account", body


def totp_login(*, name: str) -> tuple[str, str]:
    body = f"""{_greeting(name)}

someone signed in to your {SITE_NAME} account with your password and a code from your
authenticator app.

{_not_you()}

— {SITE_NAME}
"""
    return f"New sign-in to your {SITE_NAME} account", body


def backup_code_used(*, name: str, remaining: int) -> tuple[str, str]:
    advice = (
        "You have no backup codes left: create a new set in your security settings."
        if remaining == 0
        else f"{remaining} unused backup code{'s' if remaining != 1 else ''} left."
    )
    body = f"""{_greeting(name)}

one of your {SITE_NAME} backup codes was just used; it will not work again. {advice}

{_not_you()}

— {SITE_NAME}
"""
    return f"A backup code of your {SITE_NAME} account was used", body


def backup_codes_regenerated(*, name: str) -> tuple[str, str]:
    body = f"""{_greeting(name)}

a new set of backup codes was created for your {SITE_NAME} account. The previous codes no
longer work.

{_not_you()}

— {SITE_NAME}
"""
    return f"New backup codes for your {SITE_NAME} account", body
