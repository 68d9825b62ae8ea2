"""Adding a passkey: POST /auth/passkeys/register/begin|finish (ASVS 5.0 V6.7, V6.5).

Full ceremonies with the software authenticator in tests/webauthn_authenticator.py, and every
way a response can be wrong: 400 problem+json, nothing stored.
"""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import cbor2
import pytest
from django.test import Client
from django.utils import timezone
from webauthn.helpers import decode_credential_public_key

from alephdraad_core.passkeys.models import Credential, WebAuthnChallenge, WebAuthnUserHandle
from alephdraad_core.passkeys.services import MAX_PASSKEYS_PER_USER
from tests.accounts_helpers import sign_in
from tests.conftest import BAD_SHAPE, BROKEN_RULE, assert_problem
from tests.passkeys_support import (
    REGISTER_BEGIN_URL,
    REGISTER_FINISH_URL,
    RP_ID,
    RP_NAME,
    WWW_ORIGIN,
    authenticator,
    begin_registration,
    call,
    configure_relying_party,
    events,
    finish_registration,
    grant_sudo,
    mails,
    ok,
    register_passkey,
    signed_in,
)
from tests.webauthn_authenticator import (
    TEST_AAGUID,
    b64url,
    b64url_decode,
    tamper_client_data,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _relying_party(settings: Any) -> None:
    configure_relying_party(settings)


def _assert_nothing_stored(ceremony_id: str) -> None:
    assert not Credential.objects.exists()
    assert not events("passkey_added")
    assert not mails("passkey_added")
    # The attempt used the challenge up all the same.
    assert WebAuthnChallenge.objects.get(pk=ceremony_id).used_at is not None


# The ceremony


def test_asvs_6_7_a_passkey_is_registered_with_sudo(client: Client) -> None:
    who = signed_in("nadia")
    device = authenticator()
    begun = begin_registration(client, who, grant_sudo(who))
    response = finish_registration(
        client, who, begun["ceremony_id"], device.create(begun["options"]), name="  Laptop  "
    )

    body = ok(response, 201)
    stored = Credential.objects.get()
    assert body == {
        "id": stored.pk,
        "name": "Laptop",
        "created_at": body["created_at"],
        "last_used_at": None,
        "backup_eligible": True,
        "backup_state": True,
        "transports": ["hybrid", "internal"],
    }
    assert body["created_at"].endswith("Z")
    held = device.credentials[0]
    assert stored.user_id == who.user.pk
    assert bytes(stored.credential_id) == held.credential_id
    public_key = decode_credential_public_key(bytes(stored.public_key))
    assert public_key.x == held.private_key.public_key().public_numbers().x.to_bytes(32, "big")
    assert (stored.attestation_type, stored.sign_count) == ("none", 0)
    assert stored.aaguid.bytes == TEST_AAGUID
    assert bytes(stored.user_handle) == held.user_handle
    assert bytes(stored.user_handle) == bytes(WebAuthnUserHandle.objects.get(user=who.user).handle)
    assert WebAuthnChallenge.objects.get(pk=begun["ceremony_id"]).used_at is not None
    [event] = events("passkey_added", who.user)
    assert event.details["passkey_id"] == stored.pk
    [mail] = mails("passkey_added", to=who.user.email)
    assert '"Laptop"' in mail.body_text


def test_asvs_6_7_creation_options_ask_for_a_verified_discoverable_credential(
    client: Client,
) -> None:
    who = signed_in("nadia")

    response = call(client, "POST", REGISTER_BEGIN_URL, who=who, sudo=grant_sudo(who))

    body = ok(response)
    assert response["Cache-Control"] == "no-store"
    options = body["options"]
    assert options["rp"] == {"id": RP_ID, "name": RP_NAME}
    assert options["user"]["name"] == "nadia"
    assert options["user"]["displayName"] == "Nadia"
    assert options["authenticatorSelection"] == {
        "residentKey": "required",
        "requireResidentKey": True,
        "userVerification": "required",
    }
    assert options["attestation"] == "none"
    assert options["excludeCredentials"] == []
    assert options["timeout"] == 300_000
    assert {-7, -8, -257} <= {param["alg"] for param in options["pubKeyCredParams"]}
    # 64 random bytes each; the user handle is not the user id (WebAuthn 14.6.1).
    assert len(b64url_decode(options["challenge"])) == 64
    user_handle = b64url_decode(options["user"]["id"])
    assert len(user_handle) == 64
    assert str(who.user.pk).encode() not in user_handle
    row = WebAuthnChallenge.objects.get(pk=body["ceremony_id"])
    assert bytes(row.challenge) == b64url_decode(options["challenge"])
    assert (row.purpose, row.user_id, row.session_id) == ("register", who.user.pk, who.session.pk)
    expected_expiry = row.created_at + timedelta(minutes=5)
    assert abs((row.expires_at - expected_expiry).total_seconds()) < 1
    assert row.used_at is None


def test_asvs_6_7_a_second_passkey_reuses_the_user_handle_and_excludes_the_first(
    client: Client,
) -> None:
    who = signed_in("nadia")
    sudo = grant_sudo(who)
    laptop = authenticator(transports=("internal",))
    first = register_passkey(client, who, laptop, "Laptop", sudo=sudo)

    begun = begin_registration(client, who, sudo)
    phone = authenticator(transports=("hybrid",), backup_eligible=False, backup_state=False)
    second = ok(
        finish_registration(
            client, who, begun["ceremony_id"], phone.create(begun["options"]), name="Phone"
        ),
        201,
    )

    assert begun["options"]["excludeCredentials"] == [
        {"id": laptop.credentials[0].id_b64, "type": "public-key", "transports": ["internal"]}
    ]
    assert phone.credentials[0].user_handle == laptop.credentials[0].user_handle
    assert (second["backup_eligible"], second["backup_state"]) == (False, False)
    assert [row.pk for row in Credential.objects.order_by("id")] == [first["id"], second["id"]]
    assert WebAuthnUserHandle.objects.count() == 1


def test_each_user_gets_their_own_user_handle(client: Client) -> None:
    nadia, omar = signed_in("nadia"), signed_in("omar")

    nadia_handle = begin_registration(client, nadia, grant_sudo(nadia))["options"]["user"]["id"]
    omar_handle = begin_registration(client, omar, grant_sudo(omar))["options"]["user"]["id"]

    assert nadia_handle != omar_handle


def test_the_second_allowed_origin_works_too(client: Client) -> None:
    who = signed_in("nadia")

    register_passkey(client, who, authenticator(origin=WWW_ORIGIN))

    assert Credential.objects.filter(user=who.user).count() == 1


# Sudo and sessions


def test_asvs_6_7_registering_needs_sudo(client: Client) -> None:
    who = signed_in("nadia")

    assert_problem(call(client, "POST", REGISTER_BEGIN_URL, who=who), 403, "SUDO_REQUIRED")
    assert_problem(
        call(client, "POST", REGISTER_BEGIN_URL, who=who, sudo="not-a-token"), 403, "SUDO_REQUIRED"
    )
    assert_problem(call(client, "POST", REGISTER_BEGIN_URL), 401, "UNAUTHENTICATED")
    assert not WebAuthnChallenge.objects.exists()


def test_a_sudo_token_of_another_session_does_not_count(client: Client) -> None:
    who = signed_in("nadia")
    other_session = signed_in("omar")

    response = call(client, "POST", REGISTER_BEGIN_URL, who=who, sudo=grant_sudo(other_session))

    assert_problem(response, 403, "SUDO_REQUIRED")


def test_only_the_session_that_began_the_ceremony_can_finish_it(client: Client) -> None:
    who = signed_in("nadia")
    begun = begin_registration(client, who, grant_sudo(who))
    same_user_other_session = sign_in(who.user)

    response = finish_registration(
        client,
        same_user_other_session,
        begun["ceremony_id"],
        authenticator().create(begun["options"]),
    )

    assert_problem(response, 400, "WEBAUTHN_CHALLENGE_INVALID")
    assert not Credential.objects.exists()


# Refused responses: 400, nothing stored


def test_asvs_6_7_a_response_from_another_origin_is_refused(client: Client) -> None:
    who = signed_in("nadia")
    begun = begin_registration(client, who, grant_sudo(who))
    phished = authenticator(origin="https://forum.example.evil.test").create(begun["options"])

    response = finish_registration(client, who, begun["ceremony_id"], phished)

    assert_problem(response, 400, "PASSKEY_VERIFICATION_FAILED")
    _assert_nothing_stored(begun["ceremony_id"])
    [event] = events("passkey_registration_failed", who.user)
    assert "origin" in event.details["reason"]


def test_asvs_6_7_a_credential_for_another_relying_party_is_refused(client: Client) -> None:
    who = signed_in("nadia")
    begun = begin_registration(client, who, grant_sudo(who))
    scoped_elsewhere = authenticator(rp_id="evil.test").create(begun["options"])

    response = finish_registration(client, who, begun["ceremony_id"], scoped_elsewhere)

    assert_problem(response, 400, "PASSKEY_VERIFICATION_FAILED")
    _assert_nothing_stored(begun["ceremony_id"])


def test_asvs_6_5_a_challenge_is_used_once(client: Client) -> None:
    who = signed_in("nadia")
    begun = begin_registration(client, who, grant_sudo(who))
    device = authenticator()
    credential = device.create(begun["options"])
    ok(finish_registration(client, who, begun["ceremony_id"], credential), 201)

    replayed = finish_registration(client, who, begun["ceremony_id"], credential, name="Again")
    another = finish_registration(
        client, who, begun["ceremony_id"], authenticator().create(begun["options"])
    )

    assert_problem(replayed, 400, "WEBAUTHN_CHALLENGE_INVALID")
    assert_problem(another, 400, "WEBAUTHN_CHALLENGE_INVALID")
    assert Credential.objects.count() == 1
    assert len(mails("passkey_added")) == 1


def test_asvs_6_5_a_refused_response_uses_the_challenge_up(client: Client) -> None:
    who = signed_in("nadia")
    begun = begin_registration(client, who, grant_sudo(who))
    assert_problem(
        finish_registration(
            client,
            who,
            begun["ceremony_id"],
            authenticator(origin="https://evil.test").create(begun["options"]),
        ),
        400,
        "PASSKEY_VERIFICATION_FAILED",
    )

    retry = finish_registration(
        client, who, begun["ceremony_id"], authenticator().create(begun["options"])
    )

    assert_problem(retry, 400, "WEBAUTHN_CHALLENGE_INVALID")
    assert not Credential.objects.exists()


def test_asvs_6_5_an_expired_challenge_is_refused(client: Client) -> None:
    who = signed_in("nadia")
    begun = begin_registration(client, who, grant_sudo(who))
    WebAuthnChallenge.objects.filter(pk=begun["ceremony_id"]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    response = finish_registration(
        client, who, begun["ceremony_id"], authenticator().create(begun["options"])
    )

    assert_problem(response, 400, "WEBAUTHN_CHALLENGE_INVALID")
    assert not Credential.objects.exists()
    assert WebAuthnChallenge.objects.get(pk=begun["ceremony_id"]).used_at is None


def test_asvs_6_7_a_response_to_another_challenge_is_refused(client: Client) -> None:
    who = signed_in("nadia")
    sudo = grant_sudo(who)
    first = begin_registration(client, who, sudo)
    second = begin_registration(client, who, sudo)

    response = finish_registration(
        client, who, second["ceremony_id"], authenticator().create(first["options"])
    )

    assert_problem(response, 400, "PASSKEY_VERIFICATION_FAILED")
    _assert_nothing_stored(second["ceremony_id"])


def test_asvs_6_7_tampered_client_data_is_refused(client: Client) -> None:
    who = signed_in("nadia")
    begun = begin_registration(client, who, grant_sudo(who))
    credential = authenticator().create(begun["options"])

    response = finish_registration(
        client,
        who,
        begun["ceremony_id"],
        tamper_client_data(credential, type="webauthn.get"),
    )

    assert_problem(response, 400, "PASSKEY_VERIFICATION_FAILED")
    _assert_nothing_stored(begun["ceremony_id"])


def test_asvs_6_7_a_credential_created_without_user_verification_is_refused(
    client: Client,
) -> None:
    who = signed_in("nadia")
    begun = begin_registration(client, who, grant_sudo(who))
    touch_only = authenticator(user_verified=False).create(begun["options"])

    response = finish_registration(client, who, begun["ceremony_id"], touch_only)

    assert_problem(response, 400, "PASSKEY_VERIFICATION_FAILED")
    _assert_nothing_stored(begun["ceremony_id"])


def test_a_credential_id_differing_from_the_attested_one_is_refused(client: Client) -> None:
    who = signed_in("nadia")
    begun = begin_registration(client, who, grant_sudo(who))
    credential = authenticator().create(begun["options"])
    other_id = b64url(b"\x01" * 32)

    response = finish_registration(
        client, who, begun["ceremony_id"], {**credential, "id": other_id, "rawId": other_id}
    )

    assert_problem(response, 400, "PASSKEY_VERIFICATION_FAILED")
    _assert_nothing_stored(begun["ceremony_id"])


def test_a_credential_already_on_record_is_409(client: Client) -> None:
    nadia, omar = signed_in("nadia"), signed_in("omar")
    device = authenticator()
    register_passkey(client, nadia, device)
    held = device.credentials[0]

    again = begin_registration(client, nadia, grant_sudo(nadia))
    same_user = finish_registration(
        client, nadia, again["ceremony_id"], device.create(again["options"], reuse=held)
    )
    theirs = begin_registration(client, omar, grant_sudo(omar))
    other_user = finish_registration(
        client, omar, theirs["ceremony_id"], device.create(theirs["options"], reuse=held)
    )

    assert_problem(same_user, 409, "PASSKEY_ALREADY_REGISTERED")
    assert_problem(other_user, 409, "PASSKEY_ALREADY_REGISTERED")
    assert list(Credential.objects.values_list("user_id", flat=True)) == [nadia.user.pk]
    assert len(events("passkey_added")) == 1


def test_an_account_holds_at_most_20_passkeys(client: Client) -> None:
    who = signed_in("nadia")
    sudo = grant_sudo(who)
    begun = begin_registration(client, who, sudo)
    Credential.objects.bulk_create(
        Credential(
            user=who.user,
            credential_id=bytes([n + 1]) * 16,
            public_key=b"\xa0",
            attestation_type="none",
            name=f"Key {n}",
            user_handle=b"\x00" * 64,
        )
        for n in range(MAX_PASSKEYS_PER_USER)
    )

    late_finish = finish_registration(
        client, who, begun["ceremony_id"], authenticator().create(begun["options"])
    )
    new_begin = call(client, "POST", REGISTER_BEGIN_URL, who=who, sudo=sudo)

    assert_problem(late_finish, 409, "PASSKEY_LIMIT_REACHED")
    assert_problem(new_begin, 409, "PASSKEY_LIMIT_REACHED")
    assert Credential.objects.count() == MAX_PASSKEYS_PER_USER


# Bad input: 400, never 500


def _garbage_credentials(genuine: dict[str, Any]) -> list[Any]:
    response = genuine["response"]
    random_cbor = base64.urlsafe_b64encode(cbor2.dumps({"fmt": "none"})).decode().rstrip("=")
    bad_auth_data = b64url(cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": b"\x00" * 40}))
    packed = b64url(
        cbor2.dumps(
            {
                "fmt": "packed",
                "attStmt": {"alg": -7, "sig": b"\x30\x00"},
                "authData": cbor2.loads(b64url_decode(response["attestationObject"]))["authData"],
            }
        )
    )
    return [
        {},
        {"id": 1},
        {**genuine, "type": "password"},
        {**genuine, "rawId": "!!not base64!!", "id": "!!not base64!!"},
        {**genuine, "response": "nope"},
        {**genuine, "response": {**response, "clientDataJSON": b64url(b"{not json")}},
        {**genuine, "response": {**response, "clientDataJSON": b64url(b"[]")}},
        {**genuine, "response": {**response, "attestationObject": b64url(b"\xff\x00garbage")}},
        {**genuine, "response": {**response, "attestationObject": random_cbor}},
        {**genuine, "response": {**response, "attestationObject": bad_auth_data}},
        {**genuine, "response": {**response, "attestationObject": packed}},
        {**genuine, "authenticatorAttachment": "toaster"},
    ]


def test_garbage_credentials_are_400_never_500(client: Client) -> None:
    who = signed_in("nadia")
    sudo = grant_sudo(who)
    genuine = authenticator().create(begin_registration(client, who, sudo)["options"])

    for garbage in _garbage_credentials(genuine):
        begun = begin_registration(client, who, sudo)
        response = finish_registration(client, who, begun["ceremony_id"], garbage)
        assert_problem(response, 400, "PASSKEY_VERIFICATION_FAILED")
    assert not Credential.objects.exists()


@pytest.mark.parametrize(
    ("body", "field", "expected"),
    [
        ({"name": "Laptop", "credential": {}}, "ceremony_id", BAD_SHAPE),
        (
            {"ceremony_id": "not-a-uuid", "name": "Laptop", "credential": {}},
            "ceremony_id",
            BAD_SHAPE,
        ),
        ({"ceremony_id": 42, "name": "Laptop", "credential": {}}, "ceremony_id", BAD_SHAPE),
        ({"ceremony_id": "CEREMONY", "name": "", "credential": {}}, "name", BROKEN_RULE),
        ({"ceremony_id": "CEREMONY", "name": "   ", "credential": {}}, "name", BROKEN_RULE),
        ({"ceremony_id": "CEREMONY", "name": "x" * 65, "credential": {}}, "name", BROKEN_RULE),
        ({"ceremony_id": "CEREMONY", "name": "Bad\nname", "credential": {}}, "name", BAD_SHAPE),
        ({"ceremony_id": "CEREMONY", "name": 7, "credential": {}}, "name", BAD_SHAPE),
        (
            {"ceremony_id": "CEREMONY", "name": "Laptop", "credential": "{}"},
            "credential",
            BAD_SHAPE,
        ),
        ({"ceremony_id": "CEREMONY", "name": "Laptop", "credential": []}, "credential", BAD_SHAPE),
        ({"ceremony_id": "CEREMONY", "name": "Laptop"}, "credential", BAD_SHAPE),
        (
            {"ceremony_id": "CEREMONY", "name": "Laptop", "credential": {}, "extra": 1},
            "extra",
            BAD_SHAPE,
        ),
    ],
)
def test_invalid_finish_bodies_are_validation_failures(
    client: Client, body: dict[str, Any], field: str, expected: tuple[int, str]
) -> None:
    who = signed_in("nadia")
    begun = begin_registration(client, who, grant_sudo(who))
    if body.get("ceremony_id") == "CEREMONY":
        body = {**body, "ceremony_id": begun["ceremony_id"]}

    response = call(client, "POST", REGISTER_FINISH_URL, body, who=who)

    problem = assert_problem(response, *expected)
    assert field in {error["field"] for error in problem["errors"]}
    # Refused before the ceremony was touched.
    assert WebAuthnChallenge.objects.get(pk=begun["ceremony_id"]).used_at is None


def test_malformed_json_is_400(client: Client) -> None:
    who = signed_in("nadia")

    response = call(client, "POST", REGISTER_FINISH_URL, who=who, raw='{"ceremony_id": ')

    assert_problem(response, 400, "MALFORMED_REQUEST")


def test_a_name_of_64_characters_is_accepted(client: Client) -> None:
    who = signed_in("nadia")

    body = register_passkey(client, who, authenticator(), "é" * 64)

    assert body["name"] == "é" * 64


def test_an_unknown_ceremony_is_refused(client: Client) -> None:
    who = signed_in("nadia")
    begun = begin_registration(client, who, grant_sudo(who))
    credential = authenticator().create(begun["options"])

    response = finish_registration(client, who, "00000000-0000-4000-8000-000000000000", credential)

    assert_problem(response, 400, "WEBAUTHN_CHALLENGE_INVALID")
    assert not Credential.objects.exists()
