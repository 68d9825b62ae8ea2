"""Logging in with a passkey: POST /auth/passkeys/login/begin|finish (ASVS 5.0 V6.7, V6.5).

Username-less and named logins with the software authenticator; a passkey login is
multi-factor (`amr` ["hwk"]) and skips TOTP. Every refused response is a 400 that opens no
session and leaves the passkey's counter and last use untouched.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from alephdraad_core.authn.services import hash_device_fingerprint
from alephdraad_core.authn.tokens import USER_AUDIENCE, decode_token
from alephdraad_core.passkeys.models import Credential, WebAuthnChallenge
from alephdraad_core.security.limits import LOGIN_PER_IP
from tests.conftest import BAD_SHAPE, BROKEN_RULE, assert_problem
from tests.passkeys_support import (
    LOGIN_BEGIN_URL,
    LOGIN_FINISH_URL,
    RP_ID,
    WWW_ORIGIN,
    authenticator,
    begin_login,
    call,
    configure_relying_party,
    credential_state,
    events,
    finish_login,
    mails,
    ok,
    register_passkey,
    sessions_of,
    signed_in,
)
from tests.webauthn_authenticator import (
    Counter,
    SoftwareAuthenticator,
    b64url,
    b64url_decode,
    tamper_authenticator_data,
    tamper_client_data,
    tamper_signature,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _relying_party(settings: Any) -> None:
    configure_relying_party(settings)


def _enrolled(
    client: Client, username: str = "nadia", **device_settings: Any
) -> tuple[Any, SoftwareAuthenticator, dict[str, Any]]:
    """A user with one registered passkey: (signed-in user, authenticator, passkey JSON)."""
    who = signed_in(username)
    device = authenticator(**device_settings)
    passkey = register_passkey(client, who, device)
    return who, device, passkey


def _assert_refused(response: Any, code: str, who: Any, passkey: dict[str, Any]) -> None:
    """400, and nothing changed: only the registration's session, counter and last use."""
    assert_problem(response, 400, code)
    assert len(sessions_of(who.user)) == 1
    assert credential_state(passkey["id"])[:2] == (0, None)
    assert not events("passkey_login")
    assert not mails("passkey_login")


# Full ceremonies


def test_asvs_6_7_a_username_less_login_opens_a_multi_factor_session(client: Client) -> None:
    who, device, passkey = _enrolled(client)

    begun = begin_login(client)
    response = finish_login(client, begun["ceremony_id"], device.get(begun["options"]))

    body = ok(response)
    assert response["Cache-Control"] == "no-store"
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in", "user"}
    assert body["token_type"] == "Bearer"
    assert body["user"]["id"] == who.user.pk
    assert body["user"]["username"] == "nadia"
    claims = decode_token(body["access_token"], audience=USER_AUDIENCE)
    assert claims["sub"] == str(who.user.pk)
    assert claims["amr"] == ["hwk"]
    session = sessions_of(who.user)[-1]
    assert str(session.pk) == claims["sid"]
    assert session.amr == ["hwk"]
    sign_count, last_used_at, _ = credential_state(passkey["id"])
    assert sign_count == 1
    assert last_used_at is not None
    assert WebAuthnChallenge.objects.get(pk=begun["ceremony_id"]).used_at is not None
    [event] = events("passkey_login", who.user)
    assert event.details == {"passkey_id": passkey["id"], "session_id": str(session.pk)}
    assert events("login_success", who.user)[-1].details["amr"] == ["hwk"]
    [mail] = mails("passkey_login", to=who.user.email)
    assert '"Laptop"' in mail.body_text
    # The refresh token works like a password login's.
    refreshed = call(
        client, "POST", "/api/v1/auth/refresh", {"refresh_token": body["refresh_token"]}
    )
    assert refreshed.status_code == 200, refreshed.content


def test_asvs_6_7_username_less_options_allow_any_credential_with_verification(
    client: Client,
) -> None:
    response = call(client, "POST", LOGIN_BEGIN_URL, {})

    body = ok(response)
    assert response["Cache-Control"] == "no-store"
    options = body["options"]
    assert options["rpId"] == RP_ID
    assert options["allowCredentials"] == []
    assert options["userVerification"] == "required"
    assert options["timeout"] == 300_000
    assert len(b64url_decode(options["challenge"])) == 64
    row = WebAuthnChallenge.objects.get(pk=body["ceremony_id"])
    assert (row.purpose, row.user_id, row.session_id, row.discoverable) == (
        "login",
        None,
        None,
        True,
    )


def test_an_empty_body_begins_a_username_less_login(client: Client) -> None:
    body = ok(call(client, "POST", LOGIN_BEGIN_URL))

    assert body["options"]["allowCredentials"] == []


@pytest.mark.parametrize("login", ["nadia", "NADIA@example.com"])
def test_asvs_6_7_a_named_login_lists_that_accounts_passkeys(client: Client, login: str) -> None:
    who, device, _ = _enrolled(client, transports=("usb", "nfc"))
    signed_in("omar")

    begun = begin_login(client, login)
    body = ok(finish_login(client, begun["ceremony_id"], device.get(begun["options"])))

    assert begun["options"]["allowCredentials"] == [
        {"id": device.credentials[0].id_b64, "type": "public-key", "transports": ["nfc", "usb"]}
    ]
    assert body["user"]["id"] == who.user.pk
    row = WebAuthnChallenge.objects.get(pk=begun["ceremony_id"])
    assert (row.user_id, row.discoverable) == (who.user.pk, False)


def test_a_passkey_login_skips_totp(client: Client) -> None:
    who, device, _ = _enrolled(client)
    type(who.user).objects.filter(pk=who.user.pk).update(totp_enabled=True)

    begun = begin_login(client)
    body = ok(finish_login(client, begun["ceremony_id"], device.get(begun["options"])))

    claims = decode_token(body["access_token"], audience=USER_AUDIENCE)
    assert claims["amr"] == ["hwk"]
    assert claims["mfa"] is True
    assert "mfa_required" not in body


def test_the_device_fingerprint_is_kept_hashed(client: Client) -> None:
    who, device, _ = _enrolled(client)

    begun = begin_login(client)
    ok(
        finish_login(
            client, begun["ceremony_id"], device.get(begun["options"]), device_fingerprint="fp-9"
        )
    )

    assert sessions_of(who.user)[-1].device_fingerprint == hash_device_fingerprint("fp-9")


def test_a_login_from_the_second_allowed_origin_works(client: Client) -> None:
    who, device, _ = _enrolled(client)

    begun = begin_login(client)
    response = finish_login(
        client, begun["ceremony_id"], device.get(begun["options"], origin=WWW_ORIGIN)
    )

    assert ok(response)["user"]["id"] == who.user.pk


# Not revealing accounts


def test_asvs_6_7_unknown_logins_get_stable_plausible_decoys(client: Client) -> None:
    _enrolled(client)
    signed_in("omar")  # an account without passkeys

    unknown = begin_login(client, "nobody@example.com")["options"]["allowCredentials"]
    unknown_again = begin_login(client, "NOBODY@example.com ")["options"]["allowCredentials"]
    without_passkeys = begin_login(client, "omar")["options"]["allowCredentials"]

    assert unknown == unknown_again
    assert without_passkeys != unknown
    for decoys in (unknown, without_passkeys):
        assert 1 <= len(decoys) <= 2
        for decoy in decoys:
            assert decoy["type"] == "public-key"
            assert len(b64url_decode(decoy["id"])) in {16, 20, 32, 64}
            assert decoy["transports"]
            assert not Credential.objects.filter(credential_id=b64url_decode(decoy["id"])).exists()


def test_asvs_6_7_a_login_naming_nobody_cannot_be_finished(client: Client) -> None:
    who, device, passkey = _enrolled(client)

    begun = begin_login(client, "nobody")
    response = finish_login(
        client, begun["ceremony_id"], device.get(begun["options"], credential=device.credentials[0])
    )

    _assert_refused(response, "PASSKEY_VERIFICATION_FAILED", who, passkey)


def test_asvs_6_7_a_named_login_refuses_another_accounts_passkey(client: Client) -> None:
    who, _, _ = _enrolled(client)
    omar, omar_device, _ = _enrolled(client, "omar")

    begun = begin_login(client, "nadia")
    response = finish_login(
        client,
        begun["ceremony_id"],
        omar_device.get(begun["options"], credential=omar_device.credentials[0]),
    )

    assert_problem(response, 400, "PASSKEY_VERIFICATION_FAILED")
    assert len(sessions_of(omar.user)) == 1
    assert len(sessions_of(who.user)) == 1
    [event] = events("passkey_login_failed")
    assert event.user_id == who.user.pk


# Refused responses: 400, no session, counters unchanged


def test_asvs_6_7_a_response_from_another_origin_is_refused(client: Client) -> None:
    who, device, passkey = _enrolled(client)

    begun = begin_login(client)
    response = finish_login(
        client, begun["ceremony_id"], device.get(begun["options"], origin="https://evil.test")
    )

    _assert_refused(response, "PASSKEY_VERIFICATION_FAILED", who, passkey)
    [event] = events("passkey_login_failed", who.user)
    assert "origin" in event.details["reason"]


def test_asvs_6_7_an_assertion_for_another_relying_party_is_refused(client: Client) -> None:
    who, device, passkey = _enrolled(client)
    device.rp_id = "evil.test"
    device.credentials[0].rp_id = "evil.test"

    begun = begin_login(client)
    response = finish_login(client, begun["ceremony_id"], device.get(begun["options"]))

    _assert_refused(response, "PASSKEY_VERIFICATION_FAILED", who, passkey)


def test_asvs_6_5_a_login_challenge_is_used_once(client: Client) -> None:
    who, device, passkey = _enrolled(client)
    begun = begin_login(client)
    assertion = device.get(begun["options"])
    ok(finish_login(client, begun["ceremony_id"], assertion))

    replayed = finish_login(client, begun["ceremony_id"], assertion)

    assert_problem(replayed, 400, "WEBAUTHN_CHALLENGE_INVALID")
    assert len(sessions_of(who.user)) == 2
    assert credential_state(passkey["id"])[0] == 1


def test_asvs_6_5_an_assertion_cannot_be_replayed_on_a_new_ceremony(client: Client) -> None:
    who, device, passkey = _enrolled(client)
    captured = device.get(begin_login(client)["options"])

    fresh = begin_login(client)
    response = finish_login(client, fresh["ceremony_id"], captured)

    _assert_refused(response, "PASSKEY_VERIFICATION_FAILED", who, passkey)


def test_asvs_6_5_an_expired_login_challenge_is_refused(client: Client) -> None:
    who, device, passkey = _enrolled(client)
    begun = begin_login(client)
    WebAuthnChallenge.objects.filter(pk=begun["ceremony_id"]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )

    response = finish_login(client, begun["ceremony_id"], device.get(begun["options"]))

    _assert_refused(response, "WEBAUTHN_CHALLENGE_INVALID", who, passkey)


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(tamper_signature, id="signature"),
        pytest.param(
            lambda assertion: tamper_client_data(assertion, extra="appended after signing"),
            id="client-data-rewritten",
        ),
        pytest.param(
            lambda assertion: tamper_client_data(assertion, type="webauthn.create"),
            id="client-data-type",
        ),
        pytest.param(
            lambda assertion: tamper_authenticator_data(assertion, sign_count=999),
            id="authenticator-data",
        ),
    ],
)
def test_asvs_6_7_a_tampered_assertion_is_refused(client: Client, spoil: Any) -> None:
    who, device, passkey = _enrolled(client)

    begun = begin_login(client)
    response = finish_login(client, begun["ceremony_id"], spoil(device.get(begun["options"])))

    _assert_refused(response, "PASSKEY_VERIFICATION_FAILED", who, passkey)


@pytest.mark.parametrize(
    "flags", [{"user_verified": False}, {"user_present": False}], ids=["no-uv", "no-up"]
)
def test_asvs_6_7_an_assertion_without_presence_and_verification_is_refused(
    client: Client, flags: dict[str, bool]
) -> None:
    who, device, passkey = _enrolled(client)
    for name, value in flags.items():
        setattr(device, name, value)

    begun = begin_login(client)
    response = finish_login(client, begun["ceremony_id"], device.get(begun["options"]))

    _assert_refused(response, "PASSKEY_VERIFICATION_FAILED", who, passkey)


def test_asvs_6_7_a_username_less_login_needs_the_user_handle(client: Client) -> None:
    who, device, passkey = _enrolled(client)

    begun = begin_login(client)
    response = finish_login(
        client, begun["ceremony_id"], device.get(begun["options"], include_user_handle=False)
    )

    _assert_refused(response, "PASSKEY_VERIFICATION_FAILED", who, passkey)


def test_a_named_login_may_leave_the_user_handle_out(client: Client) -> None:
    who, device, _ = _enrolled(client)

    begun = begin_login(client, "nadia")
    response = finish_login(
        client, begun["ceremony_id"], device.get(begun["options"], include_user_handle=False)
    )

    assert ok(response)["user"]["id"] == who.user.pk


def test_asvs_6_7_a_wrong_user_handle_is_refused(client: Client) -> None:
    who, device, passkey = _enrolled(client)
    device.credentials[0].user_handle = b"\x07" * 64

    begun = begin_login(client)
    response = finish_login(client, begun["ceremony_id"], device.get(begun["options"]))

    _assert_refused(response, "PASSKEY_VERIFICATION_FAILED", who, passkey)


def test_an_unregistered_credential_is_refused(client: Client) -> None:
    stranger = SoftwareAuthenticator(origin="https://forum.example")
    stranger.create(
        {
            "rp": {"id": RP_ID, "name": "x"},
            "user": {"id": b64url(b"\x05" * 64), "name": "ghost"},
            "challenge": b64url(b"\x00" * 32),
            "pubKeyCredParams": [{"type": "public-key", "alg": -7}],
        }
    )

    begun = begin_login(client)
    response = finish_login(client, begun["ceremony_id"], stranger.get(begun["options"]))

    assert_problem(response, 400, "PASSKEY_VERIFICATION_FAILED")
    assert events("passkey_login_failed")[0].details == {"reason": "unknown credential"}


def test_a_removed_passkey_no_longer_logs_in(client: Client) -> None:
    who, device, passkey = _enrolled(client)
    Credential.objects.filter(pk=passkey["id"]).delete()

    begun = begin_login(client)
    response = finish_login(client, begun["ceremony_id"], device.get(begun["options"]))

    assert_problem(response, 400, "PASSKEY_VERIFICATION_FAILED")
    assert len(sessions_of(who.user)) == 1


# Sign counters


def test_asvs_6_7_a_sign_count_regression_is_recorded_but_accepted(client: Client) -> None:
    who, device, passkey = _enrolled(client, start_count=10)
    assert credential_state(passkey["id"])[0] == 10
    device.counter = Counter.REGRESS

    begun = begin_login(client)
    body = ok(finish_login(client, begun["ceremony_id"], device.get(begun["options"])))

    assert body["user"]["id"] == who.user.pk
    [event] = events("passkey_sign_count_regression", who.user)
    assert event.details == {
        "passkey_id": passkey["id"],
        "ceremony": "login",
        "stored_sign_count": 10,
        "received_sign_count": 9,
    }
    # The stored counter only grows; the use is recorded.
    sign_count, last_used_at, _ = credential_state(passkey["id"])
    assert sign_count == 10
    assert last_used_at is not None


def test_asvs_6_7_a_repeated_counter_is_a_regression_too(client: Client) -> None:
    who, device, passkey = _enrolled(client)
    begun = begin_login(client)
    ok(finish_login(client, begun["ceremony_id"], device.get(begun["options"])))

    again = begin_login(client)
    ok(finish_login(client, again["ceremony_id"], device.get(again["options"], sign_count=1)))

    assert len(events("passkey_sign_count_regression", who.user)) == 1
    assert credential_state(passkey["id"])[0] == 1


def test_asvs_6_7_a_passkey_that_always_sends_zero_keeps_working(client: Client) -> None:
    who, device, passkey = _enrolled(client, counter=Counter.ZERO)

    for _ in range(3):
        begun = begin_login(client)
        ok(finish_login(client, begun["ceremony_id"], device.get(begun["options"])))

    assert len(sessions_of(who.user)) == 4
    assert not events("passkey_sign_count_regression")
    assert credential_state(passkey["id"])[0] == 0


def test_the_backup_state_follows_the_latest_assertion(client: Client) -> None:
    _, device, passkey = _enrolled(client, backup_state=False)
    assert credential_state(passkey["id"])[2] is False
    device.backup_state = True

    begun = begin_login(client)
    ok(finish_login(client, begun["ceremony_id"], device.get(begun["options"])))

    assert credential_state(passkey["id"])[2] is True


# The account must be able to log in at all


def test_an_unverified_account_gets_no_session(client: Client) -> None:
    who, device, passkey = _enrolled(client)
    type(who.user).objects.filter(pk=who.user.pk).update(is_verified=False)

    begun = begin_login(client)
    response = finish_login(client, begun["ceremony_id"], device.get(begun["options"]))

    assert_problem(response, 403, "AUTH_EMAIL_UNVERIFIED")
    assert len(sessions_of(who.user)) == 1
    assert credential_state(passkey["id"])[:2] == (0, None)
    assert not mails("passkey_login")


def test_an_admin_locked_account_gets_no_session(client: Client) -> None:
    who, device, passkey = _enrolled(client)
    type(who.user).objects.filter(pk=who.user.pk).update(
        is_locked=True, locked_reason="spam", locked_until=None
    )

    begun = begin_login(client)
    response = finish_login(client, begun["ceremony_id"], device.get(begun["options"]))

    assert_problem(response, 403, "AUTH_ACCOUNT_LOCKED")
    assert len(sessions_of(who.user)) == 1
    assert credential_state(passkey["id"])[:2] == (0, None)


# Limits and bad input


def test_login_begin_shares_the_per_ip_login_limit(client: Client) -> None:
    for _ in range(LOGIN_PER_IP.limit):
        ok(call(client, "POST", LOGIN_BEGIN_URL, {}, ip="198.51.100.7"))

    response = call(client, "POST", LOGIN_BEGIN_URL, {}, ip="198.51.100.7")

    assert_problem(response, 429, "RATE_LIMITED")
    assert int(response["Retry-After"]) >= 1
    assert WebAuthnChallenge.objects.count() == LOGIN_PER_IP.limit


@pytest.mark.parametrize(
    ("body", "field", "expected"),
    [
        ({"login": 42}, "login", BAD_SHAPE),
        ({"login": ""}, "login", BROKEN_RULE),
        ({"login": "x" * 255}, "login", BROKEN_RULE),
        ({"email": "nadia@example.com"}, "email", BAD_SHAPE),
    ],
)
def test_invalid_begin_bodies_are_validation_failures(
    client: Client, body: dict[str, Any], field: str, expected: tuple[int, str]
) -> None:
    problem = assert_problem(call(client, "POST", LOGIN_BEGIN_URL, body), *expected)

    assert field in {error["field"] for error in problem["errors"]}
    assert not WebAuthnChallenge.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"credential": {}}, "ceremony_id"),
        ({"ceremony_id": "CEREMONY"}, "credential"),
        ({"ceremony_id": "CEREMONY", "credential": None}, "credential"),
        ({"ceremony_id": "CEREMONY", "credential": "x"}, "credential"),
        ({"ceremony_id": "CEREMONY", "credential": {}, "password": "x"}, "password"),
        (
            {"ceremony_id": "CEREMONY", "credential": {}, "device_fingerprint": 5},
            "device_fingerprint",
        ),
    ],
)
def test_invalid_finish_bodies_are_validation_failures(
    client: Client, body: dict[str, Any], field: str
) -> None:
    begun = begin_login(client)
    if body.get("ceremony_id") == "CEREMONY":
        body = {**body, "ceremony_id": begun["ceremony_id"]}

    response = call(client, "POST", LOGIN_FINISH_URL, body)

    problem = assert_problem(response, 400, "VALIDATION_FAILED")
    assert field in {error["field"] for error in problem["errors"]}
    assert WebAuthnChallenge.objects.get(pk=begun["ceremony_id"]).used_at is None


def test_malformed_json_is_400(client: Client) -> None:
    for url in (LOGIN_BEGIN_URL, LOGIN_FINISH_URL):
        assert_problem(call(client, "POST", url, raw="{login"), 400, "MALFORMED_REQUEST")
    assert_problem(call(client, "POST", LOGIN_BEGIN_URL, raw="[]"), 400, "VALIDATION_FAILED")


def test_garbage_assertions_are_400_never_500(client: Client) -> None:
    who, device, passkey = _enrolled(client)
    genuine = device.get(begin_login(client)["options"])
    response = genuine["response"]
    garbage_list: list[Any] = [
        {},
        {"id": None, "rawId": None},
        {**genuine, "type": "otp"},
        {**genuine, "rawId": "***", "id": "***"},
        {**genuine, "response": []},
        {**genuine, "response": {**response, "userHandle": 12}},
        {**genuine, "response": {**response, "userHandle": "***"}},
        {**genuine, "response": {**response, "signature": ""}},
        {**genuine, "response": {**response, "signature": b64url(b"\x30\x02\x00")}},
        {**genuine, "response": {**response, "authenticatorData": b64url(b"\x00" * 10)}},
        {**genuine, "response": {**response, "clientDataJSON": b64url(b"\xff\xfe")}},
        {**genuine, "response": {**response, "clientDataJSON": b64url(b'{"type": 1}')}},
    ]

    for garbage in garbage_list:
        begun = begin_login(client)
        refused = finish_login(client, begun["ceremony_id"], garbage)
        assert_problem(refused, 400, "PASSKEY_VERIFICATION_FAILED")
    assert len(sessions_of(who.user)) == 1
    assert credential_state(passkey["id"])[:2] == (0, None)


def test_a_register_or_sudo_ceremony_cannot_finish_a_login(client: Client) -> None:
    who, device, passkey = _enrolled(client)
    sudo_ceremony = ok(call(client, "POST", "/api/v1/auth/sudo/passkey/begin", who=who))

    response = finish_login(
        client, sudo_ceremony["ceremony_id"], device.get(sudo_ceremony["options"])
    )

    _assert_refused(response, "WEBAUTHN_CHALLENGE_INVALID", who, passkey)
