"""Listing, renaming and removing passkeys: GET /auth/passkeys, PATCH and DELETE
/auth/passkeys/{id} (ASVS 5.0 V6.7; BOLA: someone else's id is a 404)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from alephdraad_core.passkeys.models import Credential, WebAuthnChallenge
from alephdraad_core.passkeys.services import purge_expired_challenges
from alephdraad_core.sudo.models import SudoGrant
from tests.conftest import BAD_SHAPE, BROKEN_RULE, assert_problem
from tests.passkeys_support import (
    PASSKEYS_URL,
    authenticator,
    begin_login,
    call,
    configure_relying_party,
    events,
    finish_login,
    grant_sudo,
    mails,
    ok,
    register_passkey,
    signed_in,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _relying_party(settings: Any) -> None:
    configure_relying_party(settings)


def _detail(passkey_id: int | str) -> str:
    return f"{PASSKEYS_URL}/{passkey_id}"


# Listing


def test_the_list_shows_the_callers_passkeys_oldest_first(
    client: Client, django_assert_num_queries: Any
) -> None:
    who = signed_in("nadia")
    sudo = grant_sudo(who)
    laptop = register_passkey(client, who, authenticator(), "Laptop", sudo=sudo)
    phone = register_passkey(client, who, authenticator(transports=("hybrid",)), "Phone", sudo=sudo)
    omar = signed_in("omar")
    register_passkey(client, omar, authenticator(), "Omar's key")

    # The session (with its user) and the passkeys: N passkeys never cost N queries.
    with django_assert_num_queries(2):
        response = call(client, "GET", PASSKEYS_URL, who=who)

    body = ok(response)
    assert body == {"items": [laptop, phone], "next_cursor": None}
    assert phone["transports"] == ["hybrid"]


def test_an_account_without_passkeys_lists_none(client: Client) -> None:
    who = signed_in("nadia")

    assert ok(call(client, "GET", PASSKEYS_URL, who=who)) == {"items": [], "next_cursor": None}


def test_the_list_needs_a_signed_in_user(client: Client) -> None:
    assert_problem(call(client, "GET", PASSKEYS_URL), 401, "UNAUTHENTICATED")


def test_the_list_shows_the_last_use(client: Client) -> None:
    who = signed_in("nadia")
    device = authenticator()
    register_passkey(client, who, device)
    begun = begin_login(client)
    ok(finish_login(client, begun["ceremony_id"], device.get(begun["options"])))

    [item] = ok(call(client, "GET", PASSKEYS_URL, who=who))["items"]

    assert item["last_used_at"] is not None
    assert item["last_used_at"].endswith("Z")


# Renaming


def test_renaming_a_passkey(client: Client) -> None:
    who = signed_in("nadia")
    passkey = register_passkey(client, who, authenticator(), "Laptop")

    response = call(client, "PATCH", _detail(passkey["id"]), {"name": " Work laptop "}, who=who)

    assert ok(response) == {**passkey, "name": "Work laptop"}
    assert Credential.objects.get(pk=passkey["id"]).name == "Work laptop"
    [event] = events("passkey_renamed", who.user)
    assert event.details == {
        "passkey_id": passkey["id"],
        "old_name": "Laptop",
        "name": "Work laptop",
    }
    [mail] = mails("passkey_renamed", to=who.user.email)
    assert '"Laptop"' in mail.body_text
    assert '"Work laptop"' in mail.body_text


def test_renaming_to_the_same_name_changes_nothing(client: Client) -> None:
    who = signed_in("nadia")
    passkey = register_passkey(client, who, authenticator(), "Laptop")

    response = call(client, "PATCH", _detail(passkey["id"]), {"name": "Laptop"}, who=who)

    assert ok(response) == passkey
    assert not events("passkey_renamed")
    assert not mails("passkey_renamed")


def test_renaming_does_not_need_sudo(client: Client) -> None:
    who = signed_in("nadia")
    passkey = register_passkey(client, who, authenticator(), "Laptop")
    SudoGrant.objects.all().delete()

    response = call(client, "PATCH", _detail(passkey["id"]), {"name": "Desk"}, who=who)

    assert ok(response)["name"] == "Desk"


@pytest.mark.parametrize(
    ("body", "field", "expected"),
    [
        ({}, "name", BAD_SHAPE),
        ({"name": ""}, "name", BROKEN_RULE),
        ({"name": "x" * 65}, "name", BROKEN_RULE),
        ({"name": None}, "name", BAD_SHAPE),
        ({"name": "a\tb"}, "name", BAD_SHAPE),
        ({"name": "a", "x": 1}, "x", BAD_SHAPE),
    ],
)
def test_invalid_names_are_validation_failures(
    client: Client, body: dict[str, Any], field: str, expected: tuple[int, str]
) -> None:
    who = signed_in("nadia")
    passkey = register_passkey(client, who, authenticator(), "Laptop")

    response = call(client, "PATCH", _detail(passkey["id"]), body, who=who)

    problem = assert_problem(response, *expected)
    assert [error["field"] for error in problem["errors"]] == [field]
    assert Credential.objects.get(pk=passkey["id"]).name == "Laptop"


@pytest.mark.parametrize("passkey_id", ["OTHER", "999999", "abc", "-1", "1" * 40, "\u0661"])
def test_bola_renaming_someone_elses_or_an_unknown_passkey_is_404(
    client: Client, passkey_id: str
) -> None:
    who = signed_in("nadia")
    omar = signed_in("omar")
    theirs = register_passkey(client, omar, authenticator(), "Omar's key")
    target = str(theirs["id"]) if passkey_id == "OTHER" else passkey_id

    response = call(client, "PATCH", _detail(target), {"name": "Mine now"}, who=who)

    assert_problem(response, 404, "PASSKEY_NOT_FOUND")
    assert Credential.objects.get(pk=theirs["id"]).name == "Omar's key"
    assert not events("passkey_renamed")


# Removing


def test_asvs_6_7_removing_a_passkey_needs_sudo(client: Client) -> None:
    who = signed_in("nadia")
    passkey = register_passkey(client, who, authenticator())

    response = call(client, "DELETE", _detail(passkey["id"]), who=who)

    assert_problem(response, 403, "SUDO_REQUIRED")
    assert Credential.objects.filter(pk=passkey["id"]).exists()
    assert_problem(call(client, "DELETE", _detail(passkey["id"])), 401, "UNAUTHENTICATED")


def test_asvs_6_7_removing_a_passkey_with_sudo(client: Client) -> None:
    who = signed_in("nadia")
    device = authenticator()
    passkey = register_passkey(client, who, device, "Laptop")
    keep = register_passkey(client, who, authenticator(), "Phone")

    response = call(client, "DELETE", _detail(passkey["id"]), who=who, sudo=grant_sudo(who))

    assert response.status_code == 204, response.content
    assert response.content == b""
    assert list(Credential.objects.values_list("pk", flat=True)) == [keep["id"]]
    [event] = events("passkey_removed", who.user)
    assert event.details == {"passkey_id": passkey["id"], "name": "Laptop"}
    [mail] = mails("passkey_removed", to=who.user.email)
    assert '"Laptop"' in mail.body_text
    # It can no longer sign in.
    begun = begin_login(client)
    refused = finish_login(
        client, begun["ceremony_id"], device.get(begun["options"], credential=device.credentials[0])
    )
    assert_problem(refused, 400, "PASSKEY_VERIFICATION_FAILED")


def test_bola_removing_someone_elses_passkey_is_404(client: Client) -> None:
    who = signed_in("nadia")
    omar = signed_in("omar")
    theirs = register_passkey(client, omar, authenticator(), "Omar's key")

    response = call(client, "DELETE", _detail(theirs["id"]), who=who, sudo=grant_sudo(who))

    assert_problem(response, 404, "PASSKEY_NOT_FOUND")
    assert Credential.objects.filter(pk=theirs["id"]).exists()
    assert not events("passkey_removed")


def test_removing_twice_is_404_the_second_time(client: Client) -> None:
    who = signed_in("nadia")
    passkey = register_passkey(client, who, authenticator())
    sudo = grant_sudo(who)
    first = call(client, "DELETE", _detail(passkey["id"]), who=who, sudo=sudo)
    assert first.status_code == 204

    second = call(client, "DELETE", _detail(passkey["id"]), who=who, sudo=sudo)

    assert_problem(second, 404, "PASSKEY_NOT_FOUND")
    assert len(events("passkey_removed")) == 1


def test_other_methods_are_405(client: Client) -> None:
    who = signed_in("nadia")

    response = call(client, "PUT", _detail(1), {"name": "x"}, who=who)

    assert_problem(response, 405, "METHOD_NOT_ALLOWED")


# Housekeeping


def test_purging_deletes_only_challenges_long_past_their_use(client: Client) -> None:
    fresh = ok(call(client, "POST", f"{PASSKEYS_URL}/login/begin", {}))
    stale = ok(call(client, "POST", f"{PASSKEYS_URL}/login/begin", {}))
    WebAuthnChallenge.objects.filter(pk=stale["ceremony_id"]).update(
        expires_at=timezone.now() - timedelta(hours=2)
    )

    assert purge_expired_challenges() == 1
    assert list(WebAuthnChallenge.objects.values_list("pk", flat=True)) == [
        WebAuthnChallenge.objects.get(pk=fresh["ceremony_id"]).pk
    ]
