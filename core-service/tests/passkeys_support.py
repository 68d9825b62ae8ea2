"""Helpers shared by the test_passkeys_* modules: the relying party, users, sudo, ceremonies.

Every request goes through the real endpoints; only the sudo grant that registration needs is
made directly with sudo.services.do_grant_sudo, so these tests do not depend on POST
/auth/sudo.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpResponseBase
from django.test import Client, RequestFactory

from alephdraad_core.accounts.models import User
from alephdraad_core.authn.models import Session
from alephdraad_core.mail.models import OutgoingMail
from alephdraad_core.passkeys.models import Credential
from alephdraad_core.security.models import SecurityEvent
from alephdraad_core.sudo.services import do_grant_sudo
from tests.accounts_helpers import SignedIn, sign_in
from tests.authn_support import next_ip
from tests.webauthn_authenticator import SoftwareAuthenticator

RP_ID = "forum.example"
RP_NAME = "Alephdraad Test Forum"
ORIGIN = "https://forum.example"
WWW_ORIGIN = "https://www.forum.example"

PASSKEYS_URL = "/api/v1/auth/passkeys"
REGISTER_BEGIN_URL = f"{PASSKEYS_URL}/register/begin"
REGISTER_FINISH_URL = f"{PASSKEYS_URL}/register/finish"
LOGIN_BEGIN_URL = f"{PASSKEYS_URL}/login/begin"
LOGIN_FINISH_URL = f"{PASSKEYS_URL}/login/finish"
SUDO_BEGIN_URL = "/api/v1/auth/sudo/passkey/begin"
SUDO_FINISH_URL = "/api/v1/auth/sudo/passkey/finish"


def configure_relying_party(settings: Any) -> None:
    """Call from an autouse fixture with pytest-django's `settings`."""
    settings.WEBAUTHN_RP_ID = RP_ID
    settings.WEBAUTHN_RP_NAME = RP_NAME
    settings.WEBAUTHN_ORIGINS = (ORIGIN, WWW_ORIGIN)


def make_user(username: str = "nadia", **fields: Any) -> User:
    """A verified user without a usable password: passkey tests never hash one."""
    fields.setdefault("is_verified", True)
    fields.setdefault("full_name", username.title())
    return User.objects.create_user(
        email=f"{username}@example.com", username=username, password=None, **fields
    )


def signed_in(username: str = "nadia", **fields: Any) -> SignedIn:
    return sign_in(make_user(username, **fields))


def grant_sudo(who: SignedIn) -> str:
    request = RequestFactory().post("/api/v1/auth/sudo", REMOTE_ADDR="127.0.0.1")
    return do_grant_sudo(request, session=who.session, method="pwd").token


def authenticator(**settings: Any) -> SoftwareAuthenticator:
    return SoftwareAuthenticator(origin=settings.pop("origin", ORIGIN), **settings)


def call(
    client: Client,
    method: str,
    url: str,
    body: Any = None,
    *,
    who: SignedIn | None = None,
    token: str | None = None,
    sudo: str | None = None,
    ip: str | None = None,
    raw: str | None = None,
) -> HttpResponseBase:
    """One JSON request; `who` (or `token`) signs it, `sudo` adds X-Sudo-Token."""
    headers: dict[str, str] = {"X-Real-IP": ip or next_ip()}
    bearer = who.access_token if who is not None else token
    if bearer is not None:
        headers["Authorization"] = f"Bearer {bearer}"
    if sudo is not None:
        headers["X-Sudo-Token"] = sudo
    data = raw if raw is not None else (json.dumps(body) if body is not None else "")
    return client.generic(method, url, data, content_type="application/json", headers=headers)


def ok(response: HttpResponseBase, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body: dict[str, Any] = json.loads(response.content)
    return body


# Ceremonies


def begin_registration(client: Client, who: SignedIn, sudo: str) -> dict[str, Any]:
    return ok(call(client, "POST", REGISTER_BEGIN_URL, who=who, sudo=sudo))


def finish_registration(
    client: Client,
    who: SignedIn,
    ceremony_id: str,
    credential: dict[str, Any],
    name: str = "Laptop",
) -> HttpResponseBase:
    body = {"ceremony_id": ceremony_id, "name": name, "credential": credential}
    return call(client, "POST", REGISTER_FINISH_URL, body, who=who)


def register_passkey(
    client: Client,
    who: SignedIn,
    device: SoftwareAuthenticator,
    name: str = "Laptop",
    *,
    sudo: str | None = None,
) -> dict[str, Any]:
    """The whole registration ceremony through the API; returns the new passkey's JSON."""
    begun = begin_registration(client, who, sudo or grant_sudo(who))
    response = finish_registration(
        client, who, begun["ceremony_id"], device.create(begun["options"]), name
    )
    return ok(response, 201)


def begin_login(client: Client, login: str | None = None, **kwargs: Any) -> dict[str, Any]:
    body = {} if login is None else {"login": login}
    return ok(call(client, "POST", LOGIN_BEGIN_URL, body, **kwargs))


def finish_login(
    client: Client, ceremony_id: str, credential: dict[str, Any], **fields: Any
) -> HttpResponseBase:
    body = {"ceremony_id": ceremony_id, "credential": credential, **fields}
    return call(client, "POST", LOGIN_FINISH_URL, body)


def begin_sudo(client: Client, who: SignedIn) -> dict[str, Any]:
    return ok(call(client, "POST", SUDO_BEGIN_URL, who=who))


def finish_sudo(
    client: Client, who: SignedIn, ceremony_id: str, credential: dict[str, Any]
) -> HttpResponseBase:
    body = {"ceremony_id": ceremony_id, "credential": credential}
    return call(client, "POST", SUDO_FINISH_URL, body, who=who)


# State


def events(event_type: str, user: User | None = None) -> list[SecurityEvent]:
    found = SecurityEvent.objects.filter(event_type=event_type).order_by("id")
    if user is not None:
        found = found.filter(user=user)
    return list(found)


def mails(kind: str, to: str | None = None) -> list[OutgoingMail]:
    found = OutgoingMail.objects.filter(kind=kind).order_by("id")
    if to is not None:
        found = found.filter(to_address=to)
    return list(found)


def sessions_of(user: User) -> list[Session]:
    return list(Session.objects.filter(user=user).order_by("created_at"))


def credential_state(passkey_id: int) -> tuple[int, Any, bool]:
    """(sign_count, last_used_at, backup_state) of a stored passkey."""
    row = Credential.objects.get(pk=passkey_id)
    return row.sign_count, row.last_used_at, row.backup_state
