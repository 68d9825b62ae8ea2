"""Sudo mode by passkey: POST /auth/sudo/passkey/begin|finish (ASVS 5.0 V6.7, V6.5).

The ceremony is bound to the session that began it, offers only the caller's passkeys, and
yields a sudo token that the sudo-protected passkey endpoints accept.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from alephdraad_core.passkeys.models import Credential, WebAuthnChallenge
from alephdraad_core.sudo.models import SudoGrant
from alephdraad_core.sudo.services import hash_sudo_token
from tests.accounts_helpers import SignedIn, sign_in
from tests.conftest import assert_problem
from tests.passkeys_support import (
    PASSKEYS_URL,
    REGISTER_BEGIN_URL,
    RP_ID,
    SUDO_BEGIN_URL,
    SUDO_FINISH_URL,
    authenticator,
    begin_sudo,
    call,
    configure_relying_party,
    credential_state,
    events,
    finish_sudo,
    ok,
    register_passkey,
    signed_in,
)
from tests.webauthn_authenticator import (
    Counter,
    SoftwareAuthenticator,
    b64url_decode,
    tamper_signature,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _relying_party(settings: Any) -> None:
    configure_relying_party(settings)


def _enrolled(
    client: Client, username: str = "nadia", **device_settings: Any
) -> tuple[SignedIn, SoftwareAuthenticator, dict[str, Any]]:
    who = signed_in(username)
    device = authenticator(**device_settings)
    passkey = register_passkey(client, who, device)
    # Registration needed a sudo grant; start from none.
    SudoGrant.objects.all().delete()
    return who, device, passkey


def _assert_no_grant(who: SignedIn, passkey: dict[str, Any]) -> None:
    assert not SudoGrant.objects.filter(session__user=who.user).exists()
    assert credential_state(passkey["id"])[:2] == (0, None)


def test_asvs_6_7_a_passkey_confirms_sudo_mode(client: Client) -> None:
    who, device, passkey = _enrolled(client)

    begun = begin_sudo(client, who)
    response = finish_sudo(client, who, begun["ceremony_id"], device.get(begun["options"]))

    body = ok(response)
    assert response["Cache-Control"] == "no-store"
    assert set(body) == {"sudo_token", "expires_at"}
    assert body["expires_at"].endswith("Z")
    grant = SudoGrant.objects.get()
    assert grant.token_hash == hash_sudo_token(body["sudo_token"])
    assert (grant.session_id, grant.method) == (who.session.pk, "hwk")
    assert abs((grant.expires_at - grant.created_at) - timedelta(minutes=15)) < timedelta(seconds=1)
    assert events("sudo_granted", who.user)[-1].details["method"] == "hwk"
    sign_count, last_used_at, _ = credential_state(passkey["id"])
    assert (sign_count, last_used_at is not None) == (1, True)
    # The token opens what needs sudo.
    opened = call(client, "POST", REGISTER_BEGIN_URL, who=who, sudo=body["sudo_token"])
    assert opened.status_code == 200, opened.content


def test_asvs_6_7_sudo_options_offer_only_the_callers_passkeys(client: Client) -> None:
    who, device, _ = _enrolled(client)
    _enrolled(client, "omar")

    response = call(client, "POST", SUDO_BEGIN_URL, who=who)

    body = ok(response)
    options = body["options"]
    assert options["rpId"] == RP_ID
    assert options["userVerification"] == "required"
    assert [entry["id"] for entry in options["allowCredentials"]] == [device.credentials[0].id_b64]
    assert len(b64url_decode(options["challenge"])) == 64
    row = WebAuthnChallenge.objects.get(pk=body["ceremony_id"])
    assert (row.purpose, row.user_id, row.session_id) == ("sudo", who.user.pk, who.session.pk)


def test_sudo_by_passkey_needs_a_passkey(client: Client) -> None:
    who = signed_in("nadia")

    assert_problem(call(client, "POST", SUDO_BEGIN_URL, who=who), 409, "PASSKEY_NONE_REGISTERED")
    assert not WebAuthnChallenge.objects.exists()


def test_sudo_by_passkey_needs_a_signed_in_user(client: Client) -> None:
    assert_problem(call(client, "POST", SUDO_BEGIN_URL), 401, "UNAUTHENTICATED")
    assert_problem(
        call(client, "POST", SUDO_FINISH_URL, {"ceremony_id": "x", "credential": {}}),
        401,
        "UNAUTHENTICATED",
    )


def test_asvs_6_7_the_ceremony_is_bound_to_the_session_that_began_it(client: Client) -> None:
    who, device, passkey = _enrolled(client)
    other_session = sign_in(who.user)

    begun = begin_sudo(client, who)
    response = finish_sudo(
        client, other_session, begun["ceremony_id"], device.get(begun["options"])
    )

    assert_problem(response, 400, "WEBAUTHN_CHALLENGE_INVALID")
    _assert_no_grant(who, passkey)


def test_asvs_6_7_another_users_passkey_cannot_confirm_sudo(client: Client) -> None:
    who, _, passkey = _enrolled(client)
    _, omar_device, _ = _enrolled(client, "omar")

    begun = begin_sudo(client, who)
    response = finish_sudo(
        client,
        who,
        begun["ceremony_id"],
        omar_device.get(begun["options"], credential=omar_device.credentials[0]),
    )

    assert_problem(response, 400, "PASSKEY_VERIFICATION_FAILED")
    _assert_no_grant(who, passkey)
    assert events("passkey_sudo_failed", who.user)


def test_asvs_6_5_a_sudo_challenge_is_used_once(client: Client) -> None:
    who, device, _ = _enrolled(client)
    begun = begin_sudo(client, who)
    assertion = device.get(begun["options"])
    ok(finish_sudo(client, who, begun["ceremony_id"], assertion))

    replayed = finish_sudo(client, who, begun["ceremony_id"], assertion)

    assert_problem(replayed, 400, "WEBAUTHN_CHALLENGE_INVALID")
    assert SudoGrant.objects.count() == 1


def test_asvs_6_5_an_expired_sudo_challenge_is_refused(client: Client) -> None:
    who, device, passkey = _enrolled(client)
    begun = begin_sudo(client, who)
    WebAuthnChallenge.objects.filter(pk=begun["ceremony_id"]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    response = finish_sudo(client, who, begun["ceremony_id"], device.get(begun["options"]))

    assert_problem(response, 400, "WEBAUTHN_CHALLENGE_INVALID")
    _assert_no_grant(who, passkey)


@pytest.mark.parametrize("fault", ["origin", "signature", "no-uv", "rp"])
def test_asvs_6_7_a_bad_sudo_assertion_is_refused(client: Client, fault: str) -> None:
    who, device, passkey = _enrolled(client)
    begun = begin_sudo(client, who)
    if fault == "origin":
        assertion = device.get(begun["options"], origin="https://evil.test")
    elif fault == "signature":
        assertion = tamper_signature(device.get(begun["options"]))
    elif fault == "no-uv":
        device.user_verified = False
        assertion = device.get(begun["options"])
    else:
        device.rp_id = "evil.test"
        assertion = device.get(begun["options"], credential=device.credentials[0])

    response = finish_sudo(client, who, begun["ceremony_id"], assertion)

    assert_problem(response, 400, "PASSKEY_VERIFICATION_FAILED")
    _assert_no_grant(who, passkey)


def test_asvs_6_7_a_sign_count_regression_during_sudo_is_recorded_but_accepted(
    client: Client,
) -> None:
    who, device, passkey = _enrolled(client, start_count=5, counter=Counter.REGRESS)

    begun = begin_sudo(client, who)
    ok(finish_sudo(client, who, begun["ceremony_id"], device.get(begun["options"])))

    [event] = events("passkey_sign_count_regression", who.user)
    assert event.details["ceremony"] == "sudo"
    assert (event.details["stored_sign_count"], event.details["received_sign_count"]) == (5, 4)
    assert credential_state(passkey["id"])[0] == 5
    assert SudoGrant.objects.filter(session=who.session, method="hwk").count() == 1


def test_a_login_ceremony_cannot_finish_sudo(client: Client) -> None:
    who, device, passkey = _enrolled(client)
    login = ok(call(client, "POST", f"{PASSKEYS_URL}/login/begin", {}))

    response = finish_sudo(client, who, login["ceremony_id"], device.get(login["options"]))

    assert_problem(response, 400, "WEBAUTHN_CHALLENGE_INVALID")
    _assert_no_grant(who, passkey)


def test_garbage_sudo_bodies_are_400(client: Client) -> None:
    who, _, passkey = _enrolled(client)
    begun = begin_sudo(client, who)

    unknown_field = call(
        client,
        "POST",
        SUDO_FINISH_URL,
        {"ceremony_id": begun["ceremony_id"], "credential": {}, "password": "x"},
        who=who,
    )
    garbage = finish_sudo(client, who, begun["ceremony_id"], {"id": "AAAA", "rawId": "AAAA"})

    assert_problem(unknown_field, 400, "VALIDATION_FAILED")
    assert_problem(garbage, 400, "PASSKEY_VERIFICATION_FAILED")
    _assert_no_grant(who, passkey)
    assert Credential.objects.count() == 1
