"""Plain-text notices about the user's passkeys; each returns (subject, body).

Every change to a factor and every passwordless login mails the account's address, so a
passkey someone else added or used does not go unnoticed (issue 5).
"""

from __future__ import annotations

from alephdraad_core.accounts.mails import SITE_NAME, public_link

_NOT_YOU = (
    "If this wasn't you, sign in, remove passkeys you do not recognise under your security "
    "settings and change your password: it also signs out every other device."
)


def _greeting(name: str) -> str:
    return f"Hello {name}," if name else "Hello,"


def _footer() -> str:
    return f"""Your security settings: {public_link("/settings/security")}

— {SITE_NAME}
"""


def passkey_added(*, name: str, passkey_name: str) -> tuple[str, str]:
    body = f"""{_greeting(name)}

a new passkey, "{passkey_name}", was added to your {SITE_NAME} account. It can now sign in
without your password.

{_NOT_YOU}

{_footer()}"""
    return f"A passkey was added to your {SITE_NAME} account", body


def passkey_removed(*, name: str, passkey_name: str) -> tuple[str, str]:
    body = f"""{_greeting(name)}

the passkey "{passkey_name}" was removed from your {SITE_NAME} account; it can no longer sign
in. (The copy on your device stays there; you can delete it in its passkey manager.)

{_NOT_YOU}

{_footer()}"""
    return f"A passkey was removed from your {SITE_NAME} account", body


def passkey_renamed(*, name: str, old_name: str, new_name: str) -> tuple[str, str]:
    body = f"""{_greeting(name)}

the passkey "{old_name}" of your {SITE_NAME} account is now called "{new_name}".

{_NOT_YOU}

{_footer()}"""
    return f"A passkey of your {SITE_NAME} account was renamed", body


def passkey_login(
    *, name: str, passkey_name: str, when: str, ip_address: str | None, user_agent: str
) -> tuple[str, str]:
    body = f"""{_greeting(name)}

someone signed in to your {SITE_NAME} account with the passkey "{passkey_name}"
at {when} from {ip_address or "an unknown address"} ({user_agent or "unknown device"}).

If this was you, there is nothing more to do. {_NOT_YOU}

{_footer()}"""
    return f"New sign-in to your {SITE_NAME} account with a passkey", body
