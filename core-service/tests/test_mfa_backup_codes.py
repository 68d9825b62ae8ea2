"""Backup codes: shape, storage, single use (also under concurrency), regeneration (ASVS 5.0
V6.5)."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest
from django.db import transaction
from django.test import Client, override_settings
from django.utils import timezone

from alephdraad_core.accounts.models import User
from alephdraad_core.authn.models import Session
from alephdraad_core.mail.models import OutgoingMail
from alephdraad_core.mfa.codes import (
    BACKUP_CODE_ALPHABET,
    hash_backup_code,
    new_backup_codes,
    normalize_backup_code,
    parse_second_factor_code,
)
from alephdraad_core.mfa.models import BackupCode
from alephdraad_core.mfa.services import consume_backup_code
from alephdraad_core.security.models import SecurityEvent
from tests.authn_support import FAST_PASSWORD_HASHERS, login_ok, make_user
from tests.concurrency import in_threads
from tests.conftest import assert_problem
from tests.mfa_support import (
    BACKUP_CODES_REGENERATE_URL,
    BACKUP_CODES_URL,
    LOGIN_BACKUP_CODE_URL,
    OtpClock,
    call,
    freeze_otp_clock,
    start_login,
    sudo_token,
    turn_on_2fa,
)

pytestmark = pytest.mark.django_db

CODE_SHAPE = re.compile(rf"[{BACKUP_CODE_ALPHABET}]{{4}}-[{BACKUP_CODE_ALPHABET}]{{4}}")


@pytest.fixture(autouse=True)
def _fast_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = FAST_PASSWORD_HASHERS


@pytest.fixture
def otp_clock(monkeypatch: pytest.MonkeyPatch) -> OtpClock:
    return freeze_otp_clock(monkeypatch)


# Shape and storage


def test_asvs_6_5_3_codes_are_random_and_free_of_confusable_characters() -> None:
    sets = [new_backup_codes() for _ in range(20)]

    for codes in sets:
        assert len(codes) == len(set(codes)) == 10
        assert all(CODE_SHAPE.fullmatch(code) for code in codes), codes
    assert not set("01ILO") & set("".join(code for codes in sets for code in codes))
    assert len({code for codes in sets for code in codes}) == 200  # no repeats across sets


@pytest.mark.parametrize(
    ("typed", "normalized"),
    [
        ("ABCD-EFGH", "ABCDEFGH"),
        ("abcd-efgh", "ABCDEFGH"),
        ("abcdefgh", "ABCDEFGH"),
        (" ABCD EFGH ", "ABCDEFGH"),
        ("ABCD-EFG0", None),
        ("ABCD-EFGO", None),
        ("ABCD-EFGI", None),
        ("ABCD-EFGL", None),
        ("ABCD-EFG1", None),
        ("ABCD-EFG", None),
        ("ABCD-EFGHJ", None),
        ("ÄBCD-EFGH", None),
        ("", None),
    ],
)
def test_typed_codes_are_normalized_or_refused(typed: str, normalized: str | None) -> None:
    assert normalize_backup_code(typed) == normalized


def test_a_code_is_told_from_a_totp_code_by_its_shape() -> None:
    assert parse_second_factor_code("123 456") is not None
    assert parse_second_factor_code("123 456").kind == "totp"  # type: ignore[union-attr]
    assert parse_second_factor_code("2345-6789").kind == "backup_code"  # type: ignore[union-attr]
    assert parse_second_factor_code("1234567") is None


def test_codes_are_stored_as_a_hash_keyed_with_the_server_secret() -> None:
    keyed = hash_backup_code("ABCDEFGH")

    assert len(keyed) == 64
    assert keyed != hashlib.sha256(b"ABCDEFGH").hexdigest()
    with override_settings(SECRET_KEY="another-secret-key-for-this-test-only-000000"):
        assert hash_backup_code("ABCDEFGH") != keyed


# Status and regeneration


def test_remaining_counts_unused_codes(client: Client, otp_clock: OtpClock) -> None:
    make_user()
    plain = login_ok(client)["access_token"]
    assert call(client, "GET", BACKUP_CODES_URL, token=plain).json() == {"remaining": 0}
    two_factor = turn_on_2fa(client, otp_clock)
    BackupCode.objects.filter(pk=BackupCode.objects.first().pk).update(is_used=True)  # type: ignore[union-attr]

    response = call(client, "GET", BACKUP_CODES_URL, token=two_factor.access_token)

    assert response.json() == {"remaining": 9}
    assert_problem(call(client, "GET", BACKUP_CODES_URL), 401, "UNAUTHENTICATED")


def test_regenerate_needs_sudo_and_replaces_the_whole_set(
    client: Client, otp_clock: OtpClock
) -> None:
    user = make_user()
    two_factor = turn_on_2fa(client, otp_clock)
    token = two_factor.access_token
    old_hashes = set(BackupCode.objects.values_list("code_hash", flat=True))

    refused = call(client, "POST", BACKUP_CODES_REGENERATE_URL, {}, token=token)
    assert_problem(refused, 403, "SUDO_REQUIRED")
    assert set(BackupCode.objects.values_list("code_hash", flat=True)) == old_hashes

    sudo = sudo_token(client, token, code=two_factor.code(otp_clock))
    response = call(client, "POST", BACKUP_CODES_REGENERATE_URL, {}, token=token, sudo=sudo)

    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store"
    new_codes = response.json()["backup_codes"]
    assert len(new_codes) == 10
    assert all(CODE_SHAPE.fullmatch(code) for code in new_codes)
    assert set(BackupCode.objects.filter(user=user).values_list("code_hash", flat=True)) == {
        hash_backup_code(code.replace("-", "")) for code in new_codes
    }
    assert not old_hashes & {hash_backup_code(code.replace("-", "")) for code in new_codes}
    mail = OutgoingMail.objects.get(kind="backup_codes_regenerated")
    assert mail.to_address == "alice_w@example.com"
    assert (
        SecurityEvent.objects.filter(event_type="backup_codes_regenerated", user=user).count() == 1
    )
    old = call(
        client,
        "POST",
        LOGIN_BACKUP_CODE_URL,
        {"mfa_token": start_login(client), "code": two_factor.backup_codes[0]},
    )
    assert_problem(old, 400, "BACKUP_CODE_INVALID")
    new = call(
        client,
        "POST",
        LOGIN_BACKUP_CODE_URL,
        {"mfa_token": start_login(client), "code": new_codes[0]},
    )
    assert new.status_code == 200, new.content


def test_regenerate_without_2fa_is_a_409(client: Client) -> None:
    make_user()
    token = login_ok(client)["access_token"]
    sudo = sudo_token(client, token)

    response = call(client, "POST", BACKUP_CODES_REGENERATE_URL, {}, token=token, sudo=sudo)

    assert_problem(response, 409, "TOTP_NOT_ENABLED")
    assert not BackupCode.objects.exists()


def test_regenerate_refuses_a_body(client: Client, otp_clock: OtpClock) -> None:
    make_user()
    two_factor = turn_on_2fa(client, otp_clock)
    token = two_factor.access_token
    sudo = sudo_token(client, token, code=two_factor.code(otp_clock))

    response = call(
        client, "POST", BACKUP_CODES_REGENERATE_URL, {"count": 20}, token=token, sudo=sudo
    )

    assert_problem(response, 400, "VALIDATION_FAILED")
    assert BackupCode.objects.count() == 10


# Concurrency: one code, one use


@pytest.mark.django_db(transaction=True)
def test_asvs_6_5_1_two_logins_racing_with_one_code_give_exactly_one_session(
    otp_clock: OtpClock,
) -> None:
    make_user()
    two_factor = turn_on_2fa(Client(), otp_clock)
    tokens = [start_login(Client()) for _ in range(2)]
    code = two_factor.backup_codes[0]

    answers = in_threads(
        *[
            lambda token=token: call(  # type: ignore[misc]
                Client(), "POST", LOGIN_BACKUP_CODE_URL, {"mfa_token": token, "code": code}
            )
            for token in tokens
        ]
    )

    assert sorted(answer.status_code for answer in answers) == [200, 400]
    loser = next(answer for answer in answers if answer.status_code == 400)
    assert loser.json()["code"] == "BACKUP_CODE_INVALID"
    assert BackupCode.objects.filter(is_used=True).count() == 1
    assert Session.objects.filter(amr=["pwd", "otp"]).count() == 1
    assert OutgoingMail.objects.filter(kind="backup_code_used").count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_conditional_update_alone_lets_one_of_many_concurrent_uses_win() -> None:
    # Without the user-row lock the services take: only `UPDATE … WHERE is_used = false` decides.
    user = User.objects.create_user(email="r@example.com", username="racer", password=None)
    BackupCode.objects.create(user=user, code_hash=hash_backup_code("ABCDEFGH"))

    def spend() -> bool:
        with transaction.atomic():
            return consume_backup_code(user.pk, "ABCDEFGH", timezone.now())

    results = in_threads(*[spend for _ in range(6)])

    assert sorted(results) == [False] * 5 + [True]
    assert BackupCode.objects.get().is_used is True
