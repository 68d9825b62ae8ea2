"""POST /api/v1/auth/register: accounts, password policy (ASVS V6.2), no enumeration, limits."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from alephdraad_core.accounts.models import EmailVerificationToken, User
from alephdraad_core.security.models import SecurityEvent
from tests.accounts_helpers import PASSWORD, make_user, outbox, post_json, post_raw, token_in
from tests.conftest import BAD_SHAPE, BROKEN_RULE, assert_problem, assert_too_large

REGISTER = "/api/v1/auth/register"

pytestmark = pytest.mark.django_db


def registration(**overrides: Any) -> dict[str, Any]:
    body = {
        "email": "nadia@example.com",
        "password": PASSWORD,
        "username": "nadia_k",
        "full_name": "Nadia Kovač",
    }
    body.update(overrides)
    return body


def field_errors(body: dict[str, Any]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for error in body.get("errors", []):
        errors.setdefault(error["field"], []).append(error["message"])
    return errors


def test_register_creates_an_unverified_account_and_mails_a_verification_link(
    client: Client,
) -> None:
    response = post_json(
        client,
        REGISTER,
        registration(
            email="  Nadia@Example.COM ",
            full_name="  Nadia Kovač  ",
            device_fingerprint="fp-123",
        ),
    )

    assert response.status_code == 201, response.content
    assert response.json() == {
        "message": response.json()["message"],
        "verification": {"required": True},
    }
    user = User.objects.get()
    assert (user.email, user.username, user.full_name) == (
        "nadia@example.com",
        "nadia_k",
        "Nadia Kovač",
    )
    assert user.is_verified is False
    assert user.check_password(PASSWORD)
    (mail,) = outbox()
    assert (mail.kind, mail.to_address) == ("verify_email", "nadia@example.com")
    token = token_in(mail, "/verify-email")
    (stored,) = EmailVerificationToken.objects.all()
    assert stored.user_id == user.pk
    assert stored.used_at is None
    # Only the hash is stored, and the token carries 256 bits.
    assert stored.token == hashlib.sha256(token.encode()).hexdigest()
    assert token not in stored.token
    assert len(token) == 43
    expected_expiry = timezone.now() + timedelta(hours=24)
    assert abs(stored.expires_at - expected_expiry) < timedelta(seconds=30)


def test_asvs_11_4_2_passwords_hashed_with_argon2id(client: Client) -> None:
    response = post_json(client, REGISTER, registration())

    assert response.status_code == 201
    stored = User.objects.values_list("password", flat=True).get()
    assert stored.startswith("argon2$argon2id$")
    assert PASSWORD not in stored


def test_asvs_6_3_8_no_account_enumeration_on_register(client: Client) -> None:
    existing = make_user(email="nadia@example.com", username="nadia", full_name="Nadia Old")
    before = User.objects.values().get(pk=existing.pk)
    fresh = post_json(client, REGISTER, registration(email="someone.new@example.com"))

    taken = post_json(client, REGISTER, registration(email="NADIA@example.com ", username="nk2"))

    assert fresh.status_code == taken.status_code == 201
    assert fresh.json() == taken.json()
    assert taken["Content-Type"] == fresh["Content-Type"]
    # No second account, nothing about the first changed, no verification link for it.
    assert User.objects.filter(username="nk2").count() == 0
    assert User.objects.values().get(pk=existing.pk) == before
    assert not EmailVerificationToken.objects.filter(user=existing).exists()
    # The owner of the address hears about it.
    (notice,) = outbox(kind="register_attempt_existing")
    assert notice.to_address == "nadia@example.com"
    assert "tried to create" in notice.body_text
    assert "/verify-email" not in notice.body_text
    assert [m.to_address for m in outbox(kind="verify_email")] == ["someone.new@example.com"]


def test_a_taken_username_is_409_whoever_owns_the_address(client: Client) -> None:
    make_user(email="owner@example.com", username="nadia_k")

    for email in ("other@example.com", "owner@example.com"):
        response = post_json(client, REGISTER, registration(email=email))

        body = assert_problem(response, 409, "USERNAME_TAKEN")
        assert field_errors(body) == {"username": ["This username is already taken."]}
    assert User.objects.count() == 1
    assert outbox() == []


@pytest.mark.parametrize(
    "username",
    ["admin", "root", "support", "null", "alephdraad", "admin_jane", "moderator2", "api"],
)
def test_reserved_usernames_are_refused(client: Client, username: str) -> None:
    response = post_json(client, REGISTER, registration(username=username))

    body = assert_problem(response, 422, "UNPROCESSABLE_CONTENT")
    assert field_errors(body) == {"username": ["This username is reserved."]}
    assert not User.objects.exists()


@pytest.mark.parametrize(
    ("username", "expected"),
    [
        ("ab", BAD_SHAPE),
        ("Nadia", BAD_SHAPE),
        ("na dia", BAD_SHAPE),
        ("nadia-k", BAD_SHAPE),
        ("émile", BAD_SHAPE),
        ("n" * 31, BAD_SHAPE),
        ("", BROKEN_RULE),
    ],
)
def test_usernames_outside_the_pattern_are_refused(
    client: Client, username: str, expected: tuple[int, str]
) -> None:
    response = post_json(client, REGISTER, registration(username=username))

    body = assert_problem(response, *expected)
    assert list(field_errors(body)) == ["username"]
    assert not User.objects.exists()


@pytest.mark.parametrize("username", ["abc", "n" * 30, "nadia_2026", "___"])
def test_usernames_inside_the_pattern_are_accepted(client: Client, username: str) -> None:
    response = post_json(client, REGISTER, registration(username=username))

    assert response.status_code == 201, response.content
    assert User.objects.get().username == username


@pytest.mark.parametrize(
    ("email", "why", "expected"),
    [
        ("not-an-email", "format", BAD_SHAPE),
        ("nadia@", "format", BAD_SHAPE),
        ("<script>@example.com", "format", BAD_SHAPE),
        (f"{'a' * 245}@example.com", "longer than 254", BROKEN_RULE),
    ],
)
def test_invalid_email_addresses_are_refused(
    client: Client, email: str, why: str, expected: tuple[int, str]
) -> None:
    response = post_json(client, REGISTER, registration(email=email))

    body = assert_problem(response, *expected)
    assert list(field_errors(body)) == ["email"], why
    assert not User.objects.exists()


@pytest.mark.parametrize("full_name", ["", "   ", "x" * 101])
def test_full_name_is_1_to_100_characters(client: Client, full_name: str) -> None:
    response = post_json(client, REGISTER, registration(full_name=full_name))

    body = assert_problem(response, *BROKEN_RULE)
    assert list(field_errors(body)) == ["full_name"]
    assert not User.objects.exists()


def test_asvs_6_2_1_password_of_at_least_8_characters(client: Client) -> None:
    too_short = post_json(client, REGISTER, registration(password="zq7!vk2"))
    shortest = post_json(client, REGISTER, registration(password="zq7!vk2p"))

    body = assert_problem(too_short, *BROKEN_RULE)
    assert field_errors(body) == {"password": ["Ensure this field has at least 8 characters."]}
    assert shortest.status_code == 201, shortest.content
    assert User.objects.get().check_password("zq7!vk2p")


def test_asvs_6_2_9_64_character_passwords_are_accepted(client: Client) -> None:
    sixty_four = "lantern-" * 8
    one_twenty_eight = "harbour-" * 16

    first = post_json(client, REGISTER, registration(password=sixty_four))
    second = post_json(
        client,
        REGISTER,
        registration(email="b@example.com", username="second", password=one_twenty_eight),
    )

    assert first.status_code == second.status_code == 201
    assert User.objects.get(username="nadia_k").check_password(sixty_four)
    assert User.objects.get(username="second").check_password(one_twenty_eight)


def test_passwords_over_128_characters_are_a_422_field_error_never_a_500(client: Client) -> None:
    # 200,000 characters: far too long, yet the body stays under the 256 KiB limit.
    for password in ("p" * 129, "p" * 200_000):
        response = post_json(client, REGISTER, registration(password=password))

        body = assert_problem(response, *BROKEN_RULE)
        assert field_errors(body) == {
            "password": ["Ensure this field has no more than 128 characters."]
        }
    assert not User.objects.exists()


def test_issue_4_a_1mb_password_is_a_413_never_a_500_and_creates_no_user(client: Client) -> None:
    response = post_json(client, REGISTER, registration(password="p" * 1_000_000))

    assert_too_large(response)
    assert not User.objects.exists()
    assert not EmailVerificationToken.objects.exists()
    assert not SecurityEvent.objects.exists()
    assert outbox() == []


def test_asvs_6_2_4_common_passwords_rejected(client: Client) -> None:
    for password in ("password123", "qwertyuiop", "iloveyou1"):
        response = post_json(client, REGISTER, registration(password=password))

        body = assert_problem(response, 422, "UNPROCESSABLE_CONTENT")
        assert field_errors(body) == {"password": ["This password is too common."]}
    assert not User.objects.exists()


@pytest.mark.parametrize("password", ["nadia@example.com", "nadia_k_2026", "Nadia Kovač!"], ids=str)
def test_asvs_6_2_11_passwords_close_to_the_account_details_rejected(
    client: Client, password: str
) -> None:
    response = post_json(client, REGISTER, registration(password=password))

    body = assert_problem(response, 422, "UNPROCESSABLE_CONTENT")
    assert list(field_errors(body)) == ["password"]
    assert "too similar" in field_errors(body)["password"][0]


def test_asvs_6_2_5_no_composition_rules(client: Client) -> None:
    # Lower-case letters only, or spaces and emoji: both fine.
    for number, password in enumerate(["purplemonkeydishwasher", "🦦 otters hold hands 🦦"]):
        response = post_json(
            client,
            REGISTER,
            registration(
                email=f"p{number}@example.com", username=f"p{number}_user", password=password
            ),
        )

        assert response.status_code == 201, response.content
        assert User.objects.get(username=f"p{number}_user").check_password(password)


def test_asvs_6_2_8_password_is_kept_exactly_as_typed(client: Client) -> None:
    password = "  Leading and trailing spaces  "

    response = post_json(client, REGISTER, registration(password=password))

    assert response.status_code == 201
    user = User.objects.get()
    assert user.check_password(password)
    assert not user.check_password(password.strip())
    assert not user.check_password(password.lower())


def test_malformed_json_is_400_malformed_request(client: Client) -> None:
    response = post_raw(client, REGISTER, b'{"email": "nadia@example.com",')

    assert_problem(response, 400, "MALFORMED_REQUEST")
    assert not User.objects.exists()


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        (registration(email=42), ["email"]),
        (registration(password=["a", "list"]), ["password"]),
        (registration(username=None), ["username"]),
        (registration(full_name={"first": "Nadia"}), ["full_name"]),
        (registration(is_verified=True), ["is_verified"]),
        ({"email": "nadia@example.com"}, ["full_name", "password", "username"]),
    ],
    ids=[
        "int-email",
        "list-password",
        "null-username",
        "object-name",
        "unknown",
        "missing",
    ],
)
def test_wrong_types_unknown_and_missing_fields_are_field_errors(
    client: Client, body: dict[str, Any], fields: list[str]
) -> None:
    response = post_json(client, REGISTER, body)

    problem = assert_problem(response, *BAD_SHAPE)
    assert sorted(field_errors(problem)) == fields
    assert not User.objects.exists()


def test_a_device_fingerprint_over_512_characters_breaks_a_rule(client: Client) -> None:
    response = post_json(client, REGISTER, registration(device_fingerprint="f" * 513))

    problem = assert_problem(response, *BROKEN_RULE)
    assert field_errors(problem) == {
        "device_fingerprint": ["Ensure this field has no more than 512 characters."]
    }
    assert not User.objects.exists()


def test_a_shape_error_next_to_a_rule_error_is_a_400_naming_both(client: Client) -> None:
    response = post_json(client, REGISTER, registration(email=42, full_name="x" * 101))

    problem = assert_problem(response, *BAD_SHAPE)
    assert sorted(field_errors(problem)) == ["email", "full_name"]
    assert not User.objects.exists()


@pytest.mark.parametrize("raw", [b"[]", b'"text"', b"7", b"null"])
def test_a_body_that_is_not_an_object_is_a_validation_failure(client: Client, raw: bytes) -> None:
    response = post_raw(client, REGISTER, raw)

    assert_problem(response, 400, "VALIDATION_FAILED")


def test_asvs_6_3_1_seventh_registration_in_a_minute_from_one_ip_is_429(client: Client) -> None:
    ip = {"X-Real-IP": "198.51.100.7"}
    # The limit counts before the body is read, so refused bodies spend it too.
    for _ in range(5):
        assert_problem(post_json(client, REGISTER, {}, **ip), 400, "VALIDATION_FAILED")
    sixth = post_json(client, REGISTER, registration(), **ip)

    seventh = post_json(
        client, REGISTER, registration(email="u7@example.com", username="u_7"), **ip
    )
    other_ip = post_json(
        client,
        REGISTER,
        registration(email="u8@example.com", username="u_8"),
        **{"X-Real-IP": "198.51.100.8"},
    )

    assert sixth.status_code == 201, sixth.content
    assert_problem(seventh, 429, "RATE_LIMITED")
    assert 1 <= int(seventh["Retry-After"]) <= 60
    assert seventh["RateLimit-Limit"] == "6"
    assert not User.objects.filter(username="u_7").exists()
    assert other_ip.status_code == 201


def test_asvs_16_3_1_registration_is_logged_with_who_where_and_which_request(
    client: Client,
) -> None:
    make_user(email="taken@example.com", username="taken")
    headers = {"X-Real-IP": "192.0.2.44", "User-Agent": "RegTest/1.0", "X-Request-ID": "reg-req-1"}

    post_json(client, REGISTER, registration(), **headers)
    post_json(
        client, REGISTER, registration(email="taken@example.com", username="other"), **headers
    )

    events = list(SecurityEvent.objects.filter(event_type="register").order_by("id"))
    new_user = User.objects.get(username="nadia_k")
    taken = User.objects.get(username="taken")
    assert [(e.user_id, e.details) for e in events] == [
        (new_user.pk, {"outcome": "created"}),
        (taken.pk, {"outcome": "existing_email"}),
    ]
    for event in events:
        assert (event.ip_address, event.user_agent, event.request_id) == (
            "192.0.2.44",
            "RegTest/1.0",
            "reg-req-1",
        )


def test_an_email_with_control_characters_is_refused(client: Client) -> None:
    response = client.post(
        "/api/v1/auth/register",
        data={
            "email": '"a\x0bb"@example.com',
            "password": "correct horse battery staple",
            "username": "ctrl_char",
            "full_name": "Ctrl",
        },
        content_type="application/json",
    )

    body = assert_problem(response, 400, "VALIDATION_FAILED")
    assert [error["field"] for error in body["errors"]] == ["email"]
